-- examples/nvim/plugin/runctl.lua — :RunctlWatch [THREAD_ID...]: the active
-- jobs of every kind (and the runs of the threads named) in a buffer, listed
-- again every 3 s; c or <CR> on a line cancels that job. See
-- examples/nvim/lua/runctl_watch.lua and docs/embedding.md.
vim.api.nvim_create_user_command("RunctlWatch", function(opts)
  require("runctl_watch").open(opts.fargs)
end, { nargs = "*", desc = "runctl: watch active jobs, cancel the one under the cursor" })
