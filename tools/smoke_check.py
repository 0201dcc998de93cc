#!/usr/bin/env python3
"""Checks the function's answer to a smoke invoke: exits 0 only when every
record of the request came back exactly once, in order, as `Ok`, with data.

A deploy can be green while every invocation fails (a binary built for the
wrong architecture fails with Runtime.InvalidEntrypoint; a parameter value the
template accepted can stop the function at init). `make deploy` and the deploy
workflow invoke the deployed function with events/minimal.json and run this
on the answer, so such a deploy fails.

RESPONSE is what `sam remote invoke --output json` prints (the Lambda Invoke
API response: StatusCode, FunctionError, Payload) or the function's response
itself, as `firehose-enricher invoke` prints it.

Usage: smoke_check.py REQUEST RESPONSE
Standard library only, Python 3.6 and later.
"""

import json
import sys


def answer(response):
    """The function's response object, or an error message."""
    if isinstance(response, dict) and ("Payload" in response or "StatusCode" in response):
        if response.get("FunctionError"):
            return None, "the invocation failed ({}): {}".format(
                response["FunctionError"], str(response.get("Payload", ""))[:500]
            )
        payload = response.get("Payload")
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                return None, "the payload is not JSON: {}".format(payload[:200])
        response = payload
    if isinstance(response, dict) and "errorType" in response:
        return None, "the function answered an error: {} {}".format(
            response.get("errorType"), response.get("errorMessage", "")
        )
    if not isinstance(response, dict) or not isinstance(response.get("records"), list):
        return None, "not a Firehose transformation response (no records list)"
    return response, None


def check(request, response):
    """A list of problems; empty when every record is Ok."""
    response, error = answer(response)
    if error:
        return [error]
    wanted = [r.get("recordId") for r in request.get("records", [])]
    if not wanted:
        return ["the request has no records"]
    got = response["records"]
    problems = []
    if [r.get("recordId") for r in got] != wanted:
        problems.append(
            "record ids differ: sent {}, got {}".format(wanted, [r.get("recordId") for r in got])
        )
    for r in got:
        if r.get("result") != "Ok":
            problems.append("record {} is {}".format(r.get("recordId"), r.get("result")))
        elif not r.get("data"):
            problems.append("record {} is Ok with no data".format(r.get("recordId")))
    return problems


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        request = json.load(f)
    with open(sys.argv[2]) as f:
        text = f.read()
    try:
        response = json.loads(text)
    except ValueError:
        sys.exit("smoke check FAILED: the answer is not JSON: {}".format(text[:300]))
    problems = check(request, response)
    if problems:
        for p in problems:
            print("smoke check FAILED: " + p, file=sys.stderr)
        sys.exit(1)
    print("smoke check: {} record(s) Ok".format(len(request["records"])))


if __name__ == "__main__":
    main()
