-- examples/nvim/lua/runctl_watch.lua — the :RunctlWatch buffer. runctl (the
-- LuaJIT build of its module: make luajit) runs inside Neovim's own loop: a
-- vim.loop timer calls runctl.poll every 16 ms, so listing and cancelling
-- never block the editor. The module is found in $RUNCTL_MODULE_DIR (or
-- vim.g.runctl_module_dir); the credentials in OPENAI_API_KEY and
-- OPENAI_BASE_URL, as for the runctl command.
local M = {}

local runctl, client
local function load_runctl()
  if runctl then return runctl end
  local dir = vim.g.runctl_module_dir or os.getenv("RUNCTL_MODULE_DIR")
  if dir then package.cpath = dir .. "/?.so;" .. package.cpath end
  runctl = require "runctl"
  client = runctl.client { max_retries = 1 }
  return runctl
end

local state = { rows = {}, note = "listing...", threads = {} }

-- The active objects of every listable kind, and the runs of the threads.
local function list_all()
  local kinds, rows = runctl.kinds, {}
  local function add(k, thread_id)
    local api = k.resource(client)
    local ok, err = pcall(function()
      for obj in (thread_id and api.each(thread_id, { limit = 100 }) or api.each { limit = 100 }) do
        if k.active[obj.status] or k.cancelling[obj.status] then
          rows[#rows + 1] = { kind = k, thread = thread_id, id = obj.id, status = obj.status }
        end
      end
    end)
    if not ok then state.note = k.name .. ": " .. tostring(err) end
  end
  for _, name in ipairs(kinds.names()) do
    local k = kinds.get(name)
    if k.list == "each" then add(k) end
  end
  for _, id in ipairs(state.threads) do add(kinds.get("runs"), id) end
  return rows
end

local function render()
  local buf = state.buf
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then return end
  local lines = { "runctl — active jobs   (c or <CR>: cancel the job under the cursor, r: list again, q: close)",
                  state.note, "" }
  for _, row in ipairs(state.rows) do
    local id = row.thread and (row.thread .. "/" .. row.id) or row.id
    lines[#lines + 1] = ("%-16s %-40s %s"):format(row.kind.name, id, row.status)
  end
  vim.api.nvim_buf_set_option(buf, "modifiable", true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.api.nvim_buf_set_option(buf, "modifiable", false)
end

local HEADER = 3          -- lines above the first job

function M.refresh()
  if state.listing and not state.listing:done() then return end
  state.listing = runctl.task.spawn(function()
    state.rows = list_all()
    state.note = ("%d active job%s, %s"):format(#state.rows, #state.rows == 1 and "" or "s", os.date("%H:%M:%S"))
    render()
  end)
end

-- Cancels the job on the cursor's line.
function M.cancel_at_cursor()
  local line = vim.api.nvim_win_get_cursor(0)[1]
  local row = state.rows[line - HEADER]
  if not row or row.cancelling then return end
  row.cancelling, row.status = true, "cancel sent..."
  render()
  runctl.task.spawn(function()
    local api = row.kind.resource(client)
    local obj, err
    if row.thread then obj, err = api.cancel(row.thread, row.id) else obj, err = api.cancel(row.id) end
    row.status = obj and obj.status or ("failed: " .. tostring(err))
    state.note = obj and ("cancelled %s %s: %s"):format(row.kind.one, row.id, obj.status) or tostring(err)
    render()
  end)
end

function M.close()
  if state.timer then state.timer:stop() state.timer:close() state.timer = nil end
  if state.buf and vim.api.nvim_buf_is_valid(state.buf) then vim.api.nvim_buf_delete(state.buf, { force = true }) end
  state.buf = nil
end

function M.open(threads)
  load_runctl()
  state.threads = threads or {}
  if not (state.buf and vim.api.nvim_buf_is_valid(state.buf)) then
    state.buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(state.buf, "runctl://jobs")
    for _, key in ipairs { "c", "<CR>" } do
      vim.keymap.set("n", key, M.cancel_at_cursor, { buffer = state.buf, desc = "runctl: cancel this job" })
    end
    vim.keymap.set("n", "r", M.refresh, { buffer = state.buf })
    vim.keymap.set("n", "q", M.close, { buffer = state.buf })
  end
  vim.api.nvim_set_current_buf(state.buf)
  render()
  M.refresh()
  if not state.timer then
    local since = 0
    state.timer = vim.loop.new_timer()
    -- Neovim's loop drives runctl: one poll per tick (never waits), a listing every 3 s.
    state.timer:start(0, 16, vim.schedule_wrap(function()
      runctl.poll(0)
      since = since + 16
      if since >= 3000 then since = 0 M.refresh() end
    end))
  end
end

-- For tests: the rows and the note as the buffer shows them.
function M.state() return state end

return M
