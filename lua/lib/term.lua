-- lua/lib/term.lua — what a person sees on stderr (require "runctl.term"):
-- the summary lines, counts and ages in words, the progress bar on a
-- terminal, the confirmation prompt.
local core = require "runctl.core"
local runctl = require "runctl"

local M = {}

-- plural(1, "run") -> "1 run"; plural(3, "run") -> "3 runs".
function M.plural(n, word) return n .. " " .. word .. (n == 1 and "" or "s") end

-- 7384 -> "2h03m"; the two largest units, so a column of ages stays short.
function M.fmt_age(secs)
  if type(secs) ~= "number" then return "?" end
  secs = math.floor(secs)
  if secs < 0 then secs = 0 end
  if secs >= 86400 then return ("%dd%02dh"):format(secs // 86400, secs % 86400 // 3600) end
  if secs >= 3600 then return ("%dh%02dm"):format(secs // 3600, secs % 3600 // 60) end
  if secs >= 60 then return ("%dm%02ds"):format(secs // 60, secs % 60) end
  return secs .. "s"
end

---------------------------------------------------------------------- the terminal

-- Whether the human output (summary, progress) should be quiet: runctl -q.
function M.quiet() return core.log_level() < 0 end

-- A one-line progress bar on stderr, drawn only on a terminal and at most
-- ten times a second; finish() erases it so the summary starts clean.
local Progress = {}
Progress.__index = Progress

function M.progress(label, total, opts)
  opts = opts or {}
  local p = setmetatable({ label = label, total = total, done = 0, last = -1, width = 24,
                           out = opts.out or io.stderr, drawn = false }, Progress)
  if opts.enabled == nil then
    p.enabled = runctl.isatty("stderr") and not M.quiet()
  else
    p.enabled = opts.enabled
  end
  return p
end

-- The text of the bar for done of total with a short note, e.g. counts.
function M.render_progress(label, done, total, note, width)
  width = width or 24
  local fill = total > 0 and math.floor(width * done / total) or width
  if fill > width then fill = width end
  return ("%s [%s%s] %d/%d%s"):format(label, ("#"):rep(fill), ("-"):rep(width - fill), done, total,
                                       note and note ~= "" and ("  " .. note) or "")
end

-- Moves the bar one step (see update).
function Progress:step(note) return self:update(self.done + 1, note) end

function Progress:update(done, note, force)
  self.done = done
  if not self.enabled then return end
  local now = core.now()
  if not force and done < self.total and now - self.last < 0.1 then return end
  self.last = now
  self.out:write("\r\27[K", M.render_progress(self.label, done, self.total, note, self.width))
  self.out:flush()
  self.drawn = true
end

function Progress:finish()
  if self.enabled and self.drawn then
    self.out:write("\r\27[K")
    self.out:flush()
  end
  self.drawn = false
end

-- Asks question on a terminal; true only for an answer of y or yes. When
-- stdin is not a terminal it does not ask: it returns false, why.
function M.confirm(question, opts)
  opts = opts or {}
  local tty = opts.tty
  if tty == nil then tty = runctl.isatty("stdin") end
  if not tty then return false, "stdin is not a terminal" end
  local out = opts.out or io.stderr
  out:write(question, " [y/N] ")
  out:flush()
  local answer = (opts.input or io.stdin):read("l")
  if answer == nil then return false, "no answer" end
  answer = answer:lower():match("^%s*(.-)%s*$")
  if answer == "y" or answer == "yes" then return true end
  return false, "not confirmed"
end

-- Notes for the end of the summary (a hint after a failure, why a job
-- stopped), each said once: term.note(text); term.notes() -> the list.
local notes, noted = {}, {}
function M.note(text)
  if text and not noted[text] then noted[text] = true; notes[#notes + 1] = text end
end
function M.notes() return notes end

-- Writes the human summary lines to stderr (not under -q unless asked).
function M.say(force, fmt, ...)
  if M.quiet() and not force then return end
  io.stderr:write(select("#", ...) > 0 and fmt:format(...) or fmt, "\n")
end

return M
