"""One call to the aws-jit HTTP API, for scripts/demo and scripts/bench-api.

usage: api_call.py BASE_URL METHOD PATH TOKEN [JSON_BODY]
Prints the status and the pretty JSON answer; exits 1 on a 4xx/5xx answer.
"""

import json
import sys
import urllib.error
import urllib.request


def main() -> int:
    url, method, path, token = sys.argv[1:5]
    body = sys.argv[5].encode() if len(sys.argv) > 5 else None
    request = urllib.request.Request(
        url + path,
        data=body,
        method=method,
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    print(status, json.dumps(json.loads(text), indent=2))
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
