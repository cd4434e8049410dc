-- supervise-policy.example.lua — an example policy for `runctl supervise`
-- (copy it to /etc/runctl/policy.lua and edit). Each rule picks objects of
-- one kind; every pass cancels what a rule picks. Try it first with
-- `runctl supervise policy.lua --once --dry-run`.
return {
  interval = "1m",                 -- between passes (--interval overrides)
  rules = {
    -- batches still running after 6 hours (validating, in_progress, finalizing)
    { name = "stale batches", kind = "batches", older_than = "6h" },
    -- a batch whose requests mostly fail is money spent on errors
    { name = "failing batches", kind = "batches", older_than = "10m",
      match = function(b)
        local c = b.request_counts
        return c ~= nil and c.total > 0 and c.failed > 100 and c.failed > c.completed
      end },
    -- fine-tuning jobs on the small model that run past half a day
    { name = "runaway fine-tunes", kind = "fine-tuning", older_than = "12h", model = "gpt-4o-mini" },
    -- runs stuck in the threads listed in threads.txt (beside this file)
    -- { name = "stuck runs", kind = "runs", threads_file = "threads.txt", older_than = "15m" },
  },
}
