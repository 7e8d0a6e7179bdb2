-- wrk script of the load benchmark: every request is a distinct Pub/Sub push, so the service
-- creates a new instance each time (a repeated message id would be followed on the 409 path
-- instead). Usage: wrk ... -s bench/push.lua URL -- RUN_ID
-- done() prints one JSON line that bench/loadbench reads.

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  run_id = args[1] or "run"
  counter = 0
  headers = { ["Content-Type"] = "application/json" }
  -- base64 of TweetiNoteStartTopic, the message the jobs of scheduler.yaml publish
  template = '{"message":{"data":"VHdlZXRpTm90ZVN0YXJ0VG9waWM=","messageId":"%s-%d-%d",'
    .. '"publishTime":"2026-11-22T06:00:00.000Z","attributes":{"source":"cloud-scheduler"}},'
    .. '"subscription":"projects/bench-project/subscriptions/notebook-trigger-push"}'
end

function request()
  counter = counter + 1
  local body = string.format(template, run_id, thread_id, counter)
  return wrk.format("POST", "/", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,'
      .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
