"""Verification: the live page says what the configuration says."""
import os
import sys
import urllib.request

url = os.environ["INFRA_INPUT_URL"]
expected = os.environ["INFRA_INPUT_GREETING"]
page = urllib.request.urlopen(url, timeout=10).read().decode()
if expected not in page:
    sys.exit(f"{url} says {page!r}, not {expected!r}")
print(f"verified: {url} says {expected!r}")
