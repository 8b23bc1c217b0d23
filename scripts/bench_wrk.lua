-- wrk script of scripts/bench_ingest.py: each wrk thread sends its own slice of the order
-- stream (BENCH_BODIES/<path>-<thread>.txt, one delivery a line, see bench_load.Webhook.line),
-- in order, wrapping round when it runs out (the wraps are counted: those are repeats), and
-- prints one JSON line at the end: latency (microseconds), errors, and how many deliveries
-- each thread sent, so that the caller knows exactly which orders went out.
--
-- Run as: BENCH_BODIES=/tmp/x/phase wrk -t T -c C -d D --timeout 10s -s bench_wrk.lua URL

local threads = {}
local counter = 0

function setup(thread)
   thread:set("index", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local requests_ = {}
-- Globals, so that done() can read them from each thread with thread:get.
sent = 0
verifying = false

function init(args)
   verifying = index == 0
   local path = os.getenv("BENCH_BODIES") .. "-" .. index .. ".txt"
   local topics = { ["0"] = { "order.created", "created", "1" }, ["1"] = { "order.updated", "updated", "2" } }
   for line in io.lines(path) do
      local _, redelivery, delivery, body = line:match("^(%d+)\t([01])\t(%x+)\t(.*)$")
      local topic = topics[redelivery]
      local headers = {
         ["User-Agent"] = "WooCommerce/10.0.2 Hookshot (WordPress/6.8.3)",
         ["Accept"] = "*/*",
         ["Content-Type"] = "application/json",
         ["X-WC-Webhook-Source"] = "http://127.0.0.1:34082/",
         ["X-WC-Webhook-Resource"] = "order",
         ["X-WC-Webhook-Topic"] = topic[1],
         ["X-WC-Webhook-Event"] = topic[2],
         ["X-WC-Webhook-ID"] = topic[3],
         ["X-WC-Webhook-Delivery-ID"] = delivery,
      }
      table.insert(requests_, wrk.format("POST", nil, headers, body))
   end
end

function request()
   if verifying then
      -- wrk calls request() once on its first thread before the run, to check the
      -- request; that one is never sent, so it is not counted.
      verifying = false
      return requests_[1]
   end
   sent = sent + 1
   return requests_[(sent - 1) % #requests_ + 1]
end

function done(summary, latency, requests)
   local counts = {}
   for _, thread in ipairs(threads) do
      table.insert(counts, string.format("[%d,%d]", thread:get("index"), thread:get("sent")))
   end
   local e = summary.errors
   io.write(string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,'
         .. '"write":%d,"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p99":%d,'
         .. '"max":%d,"mean":%.1f},"sent":[%s]}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency:percentile(50), latency:percentile(99), latency.max,
      latency.mean, table.concat(counts, ",")))
end
