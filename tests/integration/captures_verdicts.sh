#!/usr/bin/env bash
# Every shared capture against its ground truth, verdicts included (issue 4): the verdict of
# every page load equals the manifest's expected_cause (null for a healthy load).
OW_CHECK=verdict exec python3 "$(dirname "$0")/captures_outcomes.py"
