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

-- A table as lines of text fitted to width columns (nil: no limit).
-- columns: { {name = "ID", keep = true}, {name = "AGE", right = true}, ... }
-- rows: lists of strings, one per column. Columns without keep are left out,
-- last first, until the table fits (the last column, when marked cut, is
-- cut instead while 12 of its columns fit); when even the kept ones do not fit,
-- each row takes two lines: its first cell alone, the others indented
-- below it, so an ID is never cut. Returns the lines (the header first).
function M.table(columns, rows, width)
  -- cells hold outside text (IDs, statuses, models): one printable line each
  -- once the sanitizer exists (core.printable, issue 25)
  local clean = core.printable or tostring
  local cleaned = {}
  for r, row in ipairs(rows) do
    cleaned[r] = {}
    for i = 1, #columns do cleaned[r][i] = row[i] ~= nil and clean(tostring(row[i])) or "" end
  end
  rows = cleaned
  local show = {}
  for i = 1, #columns do show[i] = true end
  local function widths()
    local w = {}
    for i, c in ipairs(columns) do
      w[i] = #c.name
      for _, r in ipairs(rows) do w[i] = math.max(w[i], #tostring(r[i] or "")) end
    end
    return w
  end
  local w = widths()
  local function line_width(from)
    local total, n = 0, 0
    for i = from or 1, #columns do
      if show[i] then total, n = total + w[i], n + 1 end
    end
    return total + 2 * math.max(0, n - 1)
  end
  for i = #columns, 1, -1 do
    if not width or line_width() <= width - 1 then break end
    local cut_fits = columns[i].cut and i == #columns and line_width() - w[i] + math.min(w[i], 12) <= width - 1
    if cut_fits then break end
    if not columns[i].keep then show[i] = false end
  end
  local shown = {}
  for i = 1, #columns do if show[i] then shown[#shown + 1] = i end end
  local need = line_width()
  local last = shown[#shown]
  if last and columns[last].cut then need = need - w[last] + math.min(w[last], 12) end
  local two = width and need > width - 1
  local function cells(r, from)
    local out = {}
    for k = from, #shown do
      local i = shown[k]
      local v = tostring(r[i] or "")
      if columns[i].right then v = (" "):rep(w[i] - #v) .. v
      elseif k < #shown then v = v .. (" "):rep(w[i] - #v) end
      out[#out + 1] = v
    end
    return (table.concat(out, "  "):gsub("%s+$", ""))
  end
  local head = {}
  for i, c in ipairs(columns) do head[i] = c.name end
  local lines = {}
  local all = { head }
  for _, r in ipairs(rows) do all[#all + 1] = r end
  for _, r in ipairs(all) do
    if two then
      lines[#lines + 1] = tostring(r[shown[1]] or "")
      lines[#lines + 1] = "    " .. cells(r, 2)
    else
      lines[#lines + 1] = cells(r, 1)
    end
  end
  if width then
    for i, l in ipairs(lines) do if #l > width - 1 then lines[i] = (l:sub(1, width - 1):gsub("%s+$", "")) end end
  end
  return lines
end

-- A one-line progress bar on stderr, drawn only on a terminal and at most
-- ten times a second; finish() erases it so the summary starts clean.
-- The line is "LABEL [####----] DONE/TOTAL  NOTE  STATUS": NOTE comes with
-- each update (counts so far), STATUS is set apart with p:status(text) and
-- stays until changed (why the job goes at the pace it does, say); on a
-- narrow terminal the bar shrinks, then goes, before the counts do.
local Progress = {}
Progress.__index = Progress

function M.progress(label, total, opts)
  opts = opts or {}
  local p = setmetatable({ label = label, total = total, done = 0, last = -1, width = 24,
                           out = opts.out or io.stderr, drawn = false, unit = opts.unit }, Progress)
  if opts.enabled == nil then
    p.enabled = M.controls("stderr") and not M.quiet()
  else
    p.enabled = opts.enabled
  end
  return p
end

-- The text of the bar for done of total with a short note, e.g. counts,
-- fitted to cols columns when given (the bar shrinks, then is left out,
-- then the note is cut: "done/total" always stays). unit follows the
-- counts ("3/10 stopped").
function M.render_progress(label, done, total, note, width, cols, unit)
  width = width or 24
  local counts = ("%d/%d%s"):format(done, total, unit and (" " .. unit) or "")
  local tail = note and note ~= "" and ("  " .. note) or ""
  local function with_bar(w)
    local fill = total > 0 and math.floor(w * done / total) or w
    if fill > w then fill = w end
    return ("%s [%s%s] %s"):format(label, ("#"):rep(fill), ("-"):rep(w - fill), counts)
  end
  if not cols then return with_bar(width) .. tail end
  local room = cols - 1                         -- the last column would wrap on some terminals
  local bare = #label + 4 + #counts              -- "LABEL [] COUNTS" without a bar
  local w = math.min(width, room - bare - #tail)
  local head
  if w >= 8 then
    head = with_bar(w)
  elseif #label + 1 + #counts + #tail <= room then   -- the bar goes before the note is cut
    head = label .. " " .. counts
  elseif bare + 8 <= room then                   -- the note is cut, the bar kept small
    head = with_bar(8)
  elseif #label + 1 + #counts <= room then
    head = label .. " " .. counts
  else
    head = counts
  end
  local line = head .. tail
  if #line > room then line = line:sub(1, room) end
  return line
end

-- Moves the bar one step (see update).
function Progress:step(note) return self:update(self.done + 1, note) end

-- Sets the status note shown after the counts (nil to clear it) and redraws.
function Progress:status(text)
  self.status_text = text
  return self:update(self.done, self.note, true)
end

function Progress:update(done, note, force)
  self.done, self.note = done, note
  if not self.enabled then return end
  local now = core.now()
  if not force and done < self.total and now - self.last < 0.1 then return end
  self.last = now
  -- the status note: set with p:status(text), or asked of p.note_fn() at each draw
  -- (e.g. "paced by the server: 198/s")
  local extra = self.status_text ~= "" and self.status_text or (self.note_fn and self.note_fn())
  if extra then note = note and note ~= "" and (note .. "  " .. extra) or extra end
  local cols = M.size("stderr")
  local line = core.printable(M.render_progress(self.label, done, self.total, note, self.width, cols, self.unit))
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

-- The command to run next (a resume, a retry), said last of all by the
-- script's runner: term.next_step(text); term.next_step() -> it.
local next_text
function M.next_step(text)
  if text ~= nil then next_text = text end
  return next_text
end

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
