#!/usr/bin/env python3
"""A stand-in browser for login tests (`BROWSER=.../browser.py`): opens the URL and follows its redirects,
as a person's browser does once they allow access; exit 0 when the last page answered 2xx.

With `BROWSER_LOG` set, it appends each URL it was asked to open to that file.
"""

import os
import sys
import urllib.request

url = sys.argv[1]
if os.environ.get("BROWSER_LOG"):
    with open(os.environ["BROWSER_LOG"], "a", encoding="utf-8") as log:
        log.write(url + "\n")
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(url, timeout=30) as page:
    sys.exit(0 if 200 <= page.status < 300 else 1)
