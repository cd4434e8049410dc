-- budget-policy.example.lua — an example `runctl supervise` policy with a
-- spend budget (copy it to /etc/runctl/policy.lua and edit). Budgets are
-- measured from the organization's costs and usage, which need an admin key
-- in OPENAI_ADMIN_KEY (beside OPENAI_API_KEY, which sends the cancels).
-- Try it first with `runctl supervise policy.lua --once --dry-run`: it logs
-- each budget's figure and what a trip would cancel; `runctl spend --budget
-- policy.lua` shows the budgets alone.
return {
  interval = "1m",                 -- between passes
  budget_interval = "5m",          -- between measurements of the budgets (the data is coarse)
  budgets = {
    -- money: today's costs (UTC day) of the batch project, from the costs listing
    { name = "daily cap", usd = 200, window = "today", project_ids = { "proj_batch" } },
    -- tokens: the last hour of gpt-4o completions, from the usage listing
    -- (an earlier signal than the costs, which come in 1-day buckets)
    { name = "token burn", tokens = 50e6, window = "1h", source = "usage", models = { "gpt-4o" } },
    -- the month as a whole (UTC calendar month), every project
    { name = "monthly cap", usd = 5000, window = "month" },
  },
  rules = {
    -- once a budget is over, these cancel everything their filters pick;
    -- while it is under, they pick nothing
    { name = "stop batches", kind = "batches", when_over = "daily cap" },
    { name = "stop tunes", kind = "fine-tuning", when_over = "monthly cap" },
    { name = "stop gpt-4o tunes", kind = "fine-tuning", when_over = "token burn", model = "gpt-4o" },
    -- a rule without when_over runs on every pass, whatever the spend
    { name = "stale batches", kind = "batches", older_than = "24h" },
  },
}
