# sort of 100,000 pseudo-random numbers with a user comparator.
let
  rand = i: (i * 7919 + 104729) - (i * 7919 + 104729) / 100003 * 100003;
  sorted = builtins.sort (a: b: a < b) (builtins.genList rand 100000);
in
builtins.elemAt sorted 0 + builtins.elemAt sorted 99999
