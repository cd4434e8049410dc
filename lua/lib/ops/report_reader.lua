-- lua/lib/ops/report_reader.lua — reading a report back (require "runctl.ops.report_reader"): its
-- header (which script wrote it, with which arguments, on which threads), its
-- closing line (whether it is complete), and what it left undone. cancel
-- --file refuses a report it cannot finish by itself and names the command
-- that can; cancel-older-than --resume takes its filters and work from it.
local json = require "runctl.json"
local args = require "runctl.ops.args"
local kinds = require "runctl.jobs.kinds"

local M = {}

-- Report lines whose object is still to do, and those that are settled.
M.TO_DO = { would_cancel = true, failed = true, skipped = true }
local FINAL = { cancelled = true, already_done = true, expired = true }

local function quote(s)
  if s:match("^[%w_./:=,@%-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- Reads a report: {header (nil for a list of pairs or an older report),
-- complete, runs = {line...}, groups = {line...}} (groups: lines with run_id
-- null, a thread or a listing), or nil when the file cannot be read.
function M.read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local rep = { runs = {}, groups = {}, complete = false }
  local n = 0
  for line in f:lines() do
    n = n + 1
    if n == 1 then line = line:gsub("^\239\187\191", "") end
    local rec = line:find("^%s*{") and json.decode(line)
    if type(rec) == "table" then
      if n == 1 and type(rec.report) == "string" then
        rep.header = rec
      elseif rec.complete == true then
        rep.complete, rep.trailer = true, rec
      elseif type(rec.action) == "string" then
        -- the parent of another kind than runs (an eval run's eval_id) is read
        -- as thread_id is: the group it was listed in
        local kind = type(rec.kind) == "string" and kinds.get(rec.kind)
        if kind and kind.parent and type(rec.thread_id) ~= "string" and type(rec[kind.parent.field]) == "string" then
          rec.thread_id = rec[kind.parent.field]
        end
        local list = type(rec.run_id) == "string" and rep.runs or rep.groups
        list[#list + 1] = rec
      end
    end
  end
  f:close()
  return rep
end

-- The shell command that resumes what rep (read from path) left undone.
function M.command(rep, path)
  local name = rep.header.report
  if name == "cancel-older-than" then
    return ("runctl cancel-older-than --resume %s --report %s"):format(quote(path),
           quote(path:gsub("%.jsonl$", "") .. ".resumed.jsonl"))
  end
  local words = { "runctl", name }
  for _, a in ipairs(type(rep.header.args) == "table" and rep.header.args or {}) do
    words[#words + 1] = quote(tostring(a))
  end
  return table.concat(words, " ")
end

-- For cancel --file: raises a usage error when the report holds work that
-- taking its run lines cannot do (threads never listed, or a report cut
-- short whose unreached runs have no line), naming the command that can.
function M.refuse_unfinishable(path)
  local rep = M.read(path)
  if not rep then return end            -- (cancel says it cannot read it)
  if not rep.header then
    -- an older report without a header: threads it could not list are lost to it
    local threads = {}
    for _, g in ipairs(rep.groups) do
      if type(g.thread_id) == "string" and M.TO_DO[g.action] then threads[#threads + 1] = quote(g.thread_id) end
    end
    if #threads > 0 then
      args.usage_error(("%s: %d threads were never listed (failed or skipped); this report does not "
                        .. "record its filters: run runctl cancel-older-than --older-than AGE [FILTERS] %s")
                       :format(path, #threads, table.concat(threads, " ")))
    end
    return
  end
  local why
  if not rep.complete then
    why = "was cut short (it has no closing line): what it never reached has no line in it"
  else
    local threads, listing = 0, false
    for _, g in ipairs(rep.groups) do
      if M.TO_DO[g.action] then
        if type(g.thread_id) == "string" then threads = threads + 1 else listing = true end
      end
    end
    if threads > 0 then
      why = ("left %d thread%s never listed (failed or skipped)"):format(threads, threads == 1 and "" or "s")
    elseif listing then
      why = "could not finish listing (failed or skipped)"
    end
  end
  if why then
    args.config_error(("%s %s; %s: %s"):format(path, why, "nothing was sent. Resume it with",
                                               M.command(rep, path)))
  end
end

-- For --resume: the report's own options (parsed again with spec) and what
-- it left: opts, threads (the groups to list again), retry (run entries to
-- cancel again), done (thread\0run keys settled already), header_args.
function M.plan(spec, path, name)
  local rep = M.read(path)
  if not rep or not rep.header or rep.header.report ~= name then
    args.usage_error(("--resume: %s is not a report of %s with a header line"):format(path, name))
  end
  local hargs = type(rep.header.args) == "table" and rep.header.args or {}
  local opts = args.parse(spec, hargs)
  local dry = opts.dry_run
  local plan = { opts = opts, threads = {}, retry = {}, done = {}, header_args = hargs,
                 complete = rep.complete }
  local again = {}
  for _, g in ipairs(rep.groups) do
    if M.TO_DO[g.action] then
      local t = g.thread_id
      if t == json.null then t = false end      -- a listing of a kind without threads
      again[t] = true
    end
  end
  for _, t in ipairs(type(rep.header.threads) == "table" and rep.header.threads or { false }) do
    if t == json.null then t = false end
    -- a complete report says which threads were listed; a cut-short one does not
    if again[t] or not rep.complete then plan.threads[#plan.threads + 1] = t end
  end
  for _, r in ipairs(rep.runs) do
    local tid = r.thread_id ~= json.null and r.thread_id or nil
    local key = tostring(tid) .. "\0" .. r.run_id
    if FINAL[r.action] or (dry and r.action == "would_cancel") then
      plan.done[key] = true
    else
      plan.retry[#plan.retry + 1] = { thread_id = tid, run_id = r.run_id,
        object = r.object ~= json.null and r.object or nil,
        status_before = r.status_before ~= json.null and r.status_before or nil,
        age = r.age ~= json.null and r.age or nil }
    end
  end
  return plan
end

return M
