//! Tests of the front end: golden files, round trips, robustness.
