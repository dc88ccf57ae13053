#!/bin/bash
# The daily check of the region's books (docs/DEPLOY.md, "What pages you"). The API
# instances' timer starts it hourly from the region's quiet hour; the first instance to
# claim the UTC day in the database runs the audit, the others find the day held and stop.
# The audit's one-line report goes to CloudWatch Logs, where a metric filter turns its
# `findings` into the metric the region's books alarms watch.
# Environment: LOYALTY_AUDIT_LOG_GROUP, the API's own (database, regions, service token);
# LOYALTY_API, the binary (default /opt/loyalty/loyalty-api).
set -uo pipefail
group=${LOYALTY_AUDIT_LOG_GROUP:?the log group the report goes to}
instance=$(hostname)

report=$("${LOYALTY_API:-/opt/loyalty/loyalty-api}" --audit --across-regions --daily "$instance")
status=$?
# No report: another instance holds the day (status 0), or the audit could not run (the
# journal says why; the claim lapses in an hour and the next try takes it over).
[ -n "$report" ] || exit "$status"

aws logs create-log-stream --log-group-name "$group" --log-stream-name "$instance" 2>/dev/null || true
# The report is one line of JSON (control characters escaped): quoted as a JSON string,
# it is the event's message.
message=$(printf '%s' "$report" | sed 's/\\/\\\\/g; s/"/\\"/g')
events=$(mktemp)
trap 'rm -f "$events"' EXIT
printf '[{"timestamp": %s, "message": "%s"}]' "$(date +%s%3N)" "$message" >"$events"
if ! aws logs put-log-events --log-group-name "$group" --log-stream-name "$instance" --log-events "file://$events" >/dev/null; then
  echo "the audit's report could not be sent to $group: $report" >&2
  exit 1
fi
exit "$status"
