-- wrk script for bench/flood.py: counts the requests wrk actually wrote, so the server's
-- total can be compared exactly. wrk's own "N requests" counts responses it finished
-- reading; requests still in flight when the duration ends are written (the server
-- answers them) but not counted there. wrk builds and writes each request in the same
-- callback, so "sent" is what reached the server's socket. wrk also calls request() once
-- before the run, in the first thread, to check the script (script_verify_request in
-- wrk.c): that call sends nothing and is subtracted.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  sent = 0
end

function request()
  sent = sent + 1
  return wrk.format()
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("sent")
  end
  io.write(string.format("requests sent: %d\n", total - 1))
end
