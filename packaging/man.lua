-- packaging/man.lua — writes the man pages runctl(1) and runctl-NAME(1) from
-- what the command itself prints (`runctl --help`, `runctl help`, `runctl help
-- NAME`) plus packaging/man.txt (the sections --help lacks), so a page cannot
-- say something --help does not. Run by runctl itself (make man):
--   runctl packaging/man.lua RUNCTL EXTRAS OUTDIR VERSION DATE NAME...
-- NAME... are the bundled scripts that get a page (the repository's scripts/).
local runctl, extras_file, outdir, version, date = ...
local names = { select(6, ...) }
assert(date, "usage: runctl packaging/man.lua RUNCTL EXTRAS OUTDIR VERSION DATE NAME...")

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- The text a command prints on stdout; raises when it fails.
local function output_of(...)
  local words = {}
  for i, w in ipairs({ ... }) do words[i] = shell_quote(w) end
  local p = assert(io.popen(table.concat(words, " ") .. " 2>&1"))
  local text = p:read("a")
  local ok, _, code = p:close()
  if not ok then error(("%s exited with status %s:\n%s"):format(table.concat({ ... }, " "), code, text), 0) end
  return text
end

-- Plain text as roff text: backslashes, minus signs, and control characters
-- at the start of a line.
local function esc(s)
  s = s:gsub("\\", "\\e"):gsub("%-", "\\-")
  return (s:gsub("^([.'])", "\\&%1"))
end

-- A term of a list: flags in bold, their arguments in italics.
local function term(s)
  local out = {}
  for word, sep in s:gmatch("(%S+)(%s*)") do
    local flag, rest = word:match("^(%-[%w%-]*)(.*)$")
    if flag then
      out[#out + 1] = "\\fB" .. esc(flag) .. "\\fR" .. esc(rest) .. sep
    elseif word:match("^[%u_%[]") and not word:match("^%u%l") then
      out[#out + 1] = "\\fI" .. esc(word) .. "\\fR" .. sep
    else
      out[#out + 1] = "\\fB" .. esc(word) .. "\\fR" .. sep
    end
  end
  return table.concat(out)
end

-- Renders help-style text: "Heading:" lines become subsections, indented
-- "TERM  description" lines (and their deeper-indented continuations) become
-- tagged paragraphs, "$ command" lines become examples, the rest paragraphs.
local function render(text, out)
  local in_par, in_list = false, false
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  local i = 1
  while i <= #lines do
    local line = lines[i]
    local indent = #line:match("^ *")
    local body = line:sub(indent + 1)
    local next_indent = lines[i + 1] and #lines[i + 1]:match("^ *") or 0
    if body == "" then
      in_par, in_list = false, false
    elseif body:match("^%$ ") then
      out[#out + 1] = ".PP\n.RS\n.nf\n" .. esc(body:sub(3))
      while lines[i + 1] and lines[i + 1]:match("^%s+%$ ") do
        i = i + 1
        out[#out + 1] = esc(lines[i]:match("^%s+%$ (.*)$"))
      end
      out[#out + 1] = ".fi\n.RE"
      in_par, in_list = false, false
    elseif indent == 0 and body:match(":$") and #body < 100 and next_indent > 0
           and not lines[i + 1]:match("^%s+%$ ") then
      out[#out + 1] = ".SS " .. esc(body:sub(1, -2))
      in_par, in_list = false, false
    elseif indent > 0 and indent <= 6 and (body:match("%S%s%s+%S") or body:match("^%-") or next_indent > indent + 2) then
      local t, gap, desc = body:match("^(.-%S)(%s%s+)(%S.*)$")
      if not t then t, desc = body, nil end
      out[#out + 1] = ".TP\n" .. term(t)
      if desc then out[#out + 1] = esc(desc) end
      -- Continuation lines are indented to the description's column (or,
      -- under a term alone on its line, deeper than the term).
      local min_indent = desc and indent + #t + #gap - 1 or indent + 3
      while lines[i + 1] and #lines[i + 1]:match("^ *") >= min_indent and lines[i + 1]:match("%S") do
        i = i + 1
        out[#out + 1] = esc(lines[i]:match("^%s*(.-)$"))
      end
      in_par, in_list = false, true
    else
      if in_list or not in_par then out[#out + 1] = ".PP" end
      out[#out + 1] = esc(body)
      in_par, in_list = true, false
    end
    i = i + 1
  end
end

-- "usage: a\n       b\n\nrest" -> { "a", "b" }, "rest"
local function split_usage(help)
  local usage, rest = {}, help
  local first = help:match("^usage: ([^\n]*)\n")
  if first then
    usage[1] = first
    rest = help:sub(#"usage: " + #first + 2)
    while rest:match("^       %S") do
      local line = rest:match("^       ([^\n]*)\n?")
      usage[#usage + 1] = line
      rest = rest:sub(8 + #line + 1)
    end
  end
  return usage, rest
end

-- The usage lines as a synopsis, without the trailing explanations that the
-- main usage aligns in a column ("runctl [OPTIONS] - [ARGS...]   run ...").
local function synopsis(usage, out)
  out[#out + 1] = ".SH SYNOPSIS\n.nf"
  for _, u in ipairs(usage) do
    local cmd = u:match("^(.-%S)%s%s+%S") or u
    local prog, args = cmd:match("^(%S+)%s*(.*)$")
    out[#out + 1] = "\\fB" .. esc(prog) .. "\\fR " .. esc(args)
  end
  out[#out + 1] = ".fi"
end

-- packaging/man.txt: "== SECTION [PAGE]" starts a section of runctl(1) or
-- of runctl-PAGE(1); "name PAGE summary" lines give page summaries.
local function read_extras()
  local f = assert(io.open(extras_file))
  local sections, summaries, current = {}, {}, nil
  for line in f:lines() do
    local title, page = line:match("^== ([%u ]+)([%l%-]*)$")
    if title then
      title = title:match("^(.-)%s*$")
      page = page ~= "" and page or "runctl"
      sections[page] = sections[page] or {}
      current = { title = title, lines = {} }
      table.insert(sections[page], current)
    elseif line:match("^summary ") then
      local name, text = line:match("^summary (%S+) (.*)$")
      summaries[name] = text
    elseif current and not line:match("^#") then
      table.insert(current.lines, line)
    end
  end
  f:close()
  return sections, summaries
end

local function write_page(name, summary, help, extra_sections, also)
  local out = {
    ('.\\" %s(1) - generated by packaging/man.lua from `runctl --help` and packaging/man.txt; do not edit'):format(name),
    ('.TH %s 1 "%s" "runctl %s" "User Commands"'):format(esc(name:upper()), date, version),
    ".SH NAME",
    esc(name) .. " \\- " .. esc(summary),
  }
  local usage, body = split_usage(help)
  synopsis(usage, out)
  out[#out + 1] = ".SH DESCRIPTION"
  for _, s in ipairs(extra_sections or {}) do
    if s.title == "DESCRIPTION" then render(table.concat(s.lines, "\n"), out) end
  end
  render(body, out)
  for _, s in ipairs(extra_sections or {}) do
    if s.title ~= "DESCRIPTION" then
      out[#out + 1] = ".SH " .. s.title
      render(table.concat(s.lines, "\n"), out)
    end
  end
  out[#out + 1] = ".SH SEE ALSO"
  out[#out + 1] = table.concat(also, ",\n")
  local path = outdir .. "/" .. name .. ".1"
  local f = assert(io.open(path, "w"))
  f:write(table.concat(out, "\n"), "\n")
  f:close()
end

local sections, summaries = read_extras()

-- `runctl help`: "  NAME   summary" per bundled script; keep those asked for.
local listed = {}
for name, summary in output_of(runctl, "help"):gmatch("\n  (%S+)%s+([^\n]+)") do listed[name] = summary end
local refs, script_list = { "\\fBlua5.4\\fR(1)" }, {}
for _, name in ipairs(names) do
  assert(listed[name], ("`runctl help` does not list the bundled script %q"):format(name))
  refs[#refs + 1] = ("\\fBrunctl\\-%s\\fR(1)"):format(esc(name))
  script_list[#script_list + 1] = ("  %s  %s (runctl-%s(1))"):format(name, listed[name], name)
end

local main_sections = { table.unpack(sections.runctl or {}) }
table.insert(main_sections, 1, { title = "BUNDLED SCRIPTS", lines = script_list })
write_page("runctl", assert(summaries.runctl, "packaging/man.txt: no summary for runctl"),
           output_of(runctl, "--help"), main_sections, refs)
for _, name in ipairs(names) do
  local also = { "\\fBrunctl\\fR(1)" }
  for _, other in ipairs(names) do
    if other ~= name then also[#also + 1] = ("\\fBrunctl\\-%s\\fR(1)"):format(esc(other)) end
  end
  write_page("runctl-" .. name, listed[name], output_of(runctl, "help", name), sections[name], also)
end
