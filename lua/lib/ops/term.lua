-- lua/lib/ops/term.lua — what a person sees on stderr (require "runctl.ops.term"):
-- the summary lines, counts and ages in words, the progress bar on a
-- terminal, the confirmation prompt.
local core = require "runctl.core"
local runctl = require "runctl"

local M = {}

-- M.printable(text [, multiline]): outside text made safe for the terminal
-- (core/text.c: controls and invalid UTF-8 shown escaped). say() and the
-- progress bar apply it; a script writing elsewhere calls it itself.
M.printable = core.printable

-- The arguments of a format with every string made one printable line.
local function printable_args(...)
  local n = select("#", ...)
  local args = { ... }
  for i = 1, n do
    if type(args[i]) == "string" then args[i] = core.printable(args[i]) end
  end
  return table.unpack(args, 1, n)
end

-- plural(1, "run") -> "1 run"; plural(3, "run") -> "3 runs".
function M.plural(n, word) return n .. " " .. word .. (n == 1 and "" or "s") end

-- 7384 -> "2h03m"; the two largest units, so a column of ages stays short.
function M.fmt_age(secs)
  if type(secs) ~= "number" then return "?" end
  secs = math.floor(secs)
  if secs < 0 then secs = 0 end
  local function div(a, b) return math.floor(a / b) end   -- no // on Lua 5.1 (LuaJIT)
  if secs >= 86400 then return ("%dd%02dh"):format(div(secs, 86400), div(secs % 86400, 3600)) end
  if secs >= 3600 then return ("%dh%02dm"):format(div(secs, 3600), div(secs % 3600, 60)) end
  if secs >= 60 then return ("%dm%02ds"):format(div(secs, 60), secs % 60) end
  return secs .. "s"
end

---------------------------------------------------------------------- the terminal

-- Whether the human output (summary, progress) should be quiet: runctl -q.
function M.quiet() return core.log_level() < 0 end

local FD = { stdin = 0, stdout = 1, stderr = 2 }

-- The terminal's columns and rows on "stdout" or "stderr", or nil when it is
-- not a terminal.
function M.size(which) return core.term_size(FD[which]) end

-- Whether to colour what goes to which: a terminal, and NO_COLOR unset.
function M.colour(which)
  local no = os.getenv("NO_COLOR")
  return runctl.isatty(which) and (no == nil or no == "")
end

-- Whether which is a terminal that takes cursor controls (a progress bar
-- redrawn in place, a screen cleared): not TERM=dumb, which gets plain lines.
function M.controls(which)
  return runctl.isatty(which) and os.getenv("TERM") ~= "dumb"
end

-- text in SGR colour code ("32" green, "31" red, ...) when on is true.
function M.paint(on, code, text)
  if not on or not code then return text end
  return "\27[" .. code .. "m" .. text .. "\27[0m"
end

-- text cut into lines of at most width columns at spaces (a word longer than
-- that stays whole), continuation lines indented by indent spaces.
function M.wrap(text, width, indent)
  if not width or #text <= width then return text end
  local pad = (" "):rep(indent or 2)
  local lines, line = {}, ""
  for word in text:gmatch("%S+") do
    if line == "" then
      line = word
    elseif #line + 1 + #word > width then
      lines[#lines + 1] = line
      line = pad .. word
    else
      line = line .. " " .. word
    end
  end
  lines[#lines + 1] = line
  local lead = text:match("^%s*")
  return lead .. table.concat(lines, "\n"):gsub("^%s*", "")
end

-- A one-line progress bar on stderr, drawn only on a terminal and at most
-- ten times a second; finish() erases it so the summary starts clean.
local Progress = {}
Progress.__index = Progress

function M.progress(label, total, opts)
  opts = opts or {}
  local p = setmetatable({ label = label, total = total, done = 0, last = -1, width = 24,
                           out = opts.out or io.stderr, drawn = false }, Progress)
  if opts.enabled == nil then
    p.enabled = M.controls("stderr") and not M.quiet()
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
  local extra = self.note_fn and self.note_fn()       -- e.g. "paced by the server: 198/s"
  if extra then note = note and note ~= "" and (note .. "  " .. extra) or extra end
  local line = core.printable(M.render_progress(self.label, done, self.total, note, self.width))
  local cols = M.size("stderr")
  if cols and #line >= cols then line = line:sub(1, cols - 1) end   -- a wrapped bar cannot be redrawn
  self.out:write("\r\27[K", line)
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

-- Single keys from a terminal on stdin (watch's `q`): switches it to
-- unbuffered, silent input; returns {poll = fn -> a key or nil, restore = fn},
-- or nil when stdin is not a terminal. restore() puts the settings back.
function M.keys()
  if not runctl.isatty("stdin") then return nil end
  local p = io.popen("stty -g 2>/dev/null")
  local saved = p and p:read("l")
  if p then p:close() end
  if not saved or not saved:match("^[%w:]+$") then return nil end
  if not os.execute("stty -icanon -echo min 0 time 0 2>/dev/null") then return nil end
  local keys = {}
  function keys.poll() return io.stdin:read(1) end      -- min 0 time 0: never blocks
  function keys.restore()
    if saved then os.execute("stty " .. saved .. " 2>/dev/null") saved = nil end
  end
  return keys
end

-- Asks question on a terminal; true only for an answer of y or yes. When
-- stdin is not a terminal it does not ask: it returns false, why.
function M.confirm(question, opts)
  opts = opts or {}
  local tty = opts.tty
  if tty == nil then tty = runctl.isatty("stdin") end
  if not tty then return false, "stdin is not a terminal" end
  local out = opts.out or io.stderr
  out:write(core.printable(question, true), " [y/N] ")
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

-- Writes the human summary lines to stderr (not under -q unless asked),
-- wrapped at word boundaries to the width of a terminal. Outside text is
-- shown escaped: each argument as one line, the whole text keeping the
-- newlines of the format (runctl.printable).
function M.say(force, fmt, ...)
  if M.quiet() and not force then return end
  local text = core.printable(select("#", ...) > 0 and fmt:format(printable_args(...)) or fmt, true)
  local width = M.size("stderr")
  if width then text = M.wrap(text, width - 1, #text:match("^%s*") + 2) end
  io.stderr:write(text, "\n")     -- printable above; wrap adds only newlines and spaces
end

return M
