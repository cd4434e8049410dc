-- examples/love/main.lua — a LÖVE 11 app that shows the active jobs of every
-- kind (batches, fine-tuning jobs, ... and the runs of the threads named in
-- RUNCTL_THREADS) and cancels the selected one: arrows or a click select,
-- Enter, Delete or the row's [cancel] cancel; r lists again; Esc quits.
-- runctl never blocks a frame: love.update calls runctl.poll once, and the
-- listing and cancels are tasks. Needs the LuaJIT build of the module
-- (make luajit); see docs/embedding.md for the commands.
local here = love.filesystem.getSource()
package.cpath = (os.getenv("RUNCTL_MODULE_DIR") or here .. "/../../build-luajit/module") .. "/?.so;" .. package.cpath
local runctl = require "runctl"
local task, kinds = runctl.task, runctl.kinds

local client = runctl.client { max_retries = 1 }    -- OPENAI_API_KEY, OPENAI_BASE_URL
local threads = {}
for id in (os.getenv("RUNCTL_THREADS") or ""):gmatch("[^,%s]+") do threads[#threads + 1] = id end

local rows, selected, note = {}, 1, "listing..."
local listing                                     -- the task listing now, or nil
local ROW_Y, ROW_H = 60, 22

-- The active objects of kind k (of a thread, for runs) as rows.
local function active_rows(k, thread_id, out)
  local api = k.resource(client)
  local ok, err = pcall(function()
    for obj in (thread_id and api.each(thread_id, { limit = 100 }) or api.each { limit = 100 }) do
      if k.active[obj.status] or k.cancelling[obj.status] then
        out[#out + 1] = { kind = k, thread = thread_id, id = obj.id, status = obj.status,
                          model = obj.model, created = obj.created_at }
      end
    end
  end)
  if not ok then note = ("%s: %s"):format(k.name, tostring(err)) end
end

local function refresh()
  if listing and not listing:done() then return end
  listing = task.spawn(function()
    local out = {}
    for _, name in ipairs(kinds.names()) do
      local k = kinds.get(name)
      if k.list == "each" then active_rows(k, nil, out) end
    end
    for _, id in ipairs(threads) do active_rows(kinds.get("runs"), id, out) end
    rows = out
    selected = math.max(1, math.min(selected, #rows))
    note = ("%d active job%s; %s"):format(#rows, #rows == 1 and "" or "s", os.date("%H:%M:%S"))
  end)
end

local function cancel(i)
  local row = rows[i]
  if not row or row.cancelling then return end
  row.cancelling, row.status = true, "cancel sent..."
  task.spawn(function()
    local api = row.kind.resource(client)
    local obj, err
    if row.thread then obj, err = api.cancel(row.thread, row.id) else obj, err = api.cancel(row.id) end
    row.status = obj and obj.status or ("failed: " .. tostring(err))
    note = obj and ("cancelled %s %s: %s"):format(row.kind.one, row.id, obj.status) or tostring(err)
  end)
end

function love.load()
  love.graphics.setFont(love.graphics.newFont(14))
  refresh()
end

-- RUNCTL_SCREENSHOT=FILE.png (examples/love/screenshot.sh): once listed,
-- cancel the second row, then save the window as FILE.png and quit.
local shot, shot_step = os.getenv("RUNCTL_SCREENSHOT"), 0
local function screenshot_step()
  if shot_step == 0 and #rows > 1 and listing:done() then
    selected, shot_step = 2, 1
    cancel(2)
  elseif shot_step == 1 and rows[2] and rows[2].status ~= "cancel sent..." then
    shot_step = 2
    love.graphics.captureScreenshot(function(image)
      local f = assert(io.open(shot, "wb"))
      f:write(image:encode("png"):getString())
      f:close()
      love.event.quit(0)
    end)
  end
end

local since = 0
function love.update(dt)
  runctl.poll(0)                      -- the frame's share of runctl: never waits
  since = since + dt
  if since > 3 and not shot then since = 0 refresh() end
  if shot then screenshot_step() end
end

function love.keypressed(key)
  if key == "down" then selected = math.min(#rows, selected + 1)
  elseif key == "up" then selected = math.max(1, selected - 1)
  elseif key == "return" or key == "delete" or key == "c" then cancel(selected)
  elseif key == "r" then refresh()
  elseif key == "escape" or key == "q" then love.event.quit() end
end

function love.mousepressed(x, y, button)
  local i = math.floor((y - ROW_Y) / ROW_H) + 1
  if button ~= 1 or not rows[i] then return end
  selected = i
  if x > love.graphics.getWidth() - 90 then cancel(i) end     -- the row's [cancel]
end

local function age(created)
  if type(created) ~= "number" then return "" end
  local s = math.max(0, os.time() - created)
  if s >= 3600 then return ("%dh%02dm"):format(math.floor(s / 3600), math.floor(s % 3600 / 60)) end
  return ("%dm%02ds"):format(math.floor(s / 60), s % 60)
end

function love.draw()
  local w = love.graphics.getWidth()
  love.graphics.clear(0.11, 0.12, 0.14)
  love.graphics.setColor(1, 1, 1)
  love.graphics.print("runctl — active jobs   (arrows/click: select, Enter/Del/[cancel]: cancel, r: list again)", 12, 12)
  local COLS = { 12, 130, 420, 560, 640 }
  local function columns(y, ...)
    for i, text in ipairs { ... } do love.graphics.print(tostring(text), COLS[i], y) end
  end
  love.graphics.setColor(0.6, 0.65, 0.7)
  columns(38, "KIND", "ID", "STATUS", "AGE", "MODEL")
  for i, row in ipairs(rows) do
    local y = ROW_Y + (i - 1) * ROW_H
    if i == selected then
      love.graphics.setColor(0.22, 0.33, 0.5)
      love.graphics.rectangle("fill", 6, y - 2, w - 12, ROW_H)
    end
    love.graphics.setColor(row.cancelling and { 1, 0.75, 0.4 } or { 0.92, 0.92, 0.92 })
    local id = row.thread and (row.thread .. "/" .. row.id) or row.id
    columns(y, row.kind.name, id, row.status, age(row.created), row.model or "")
    love.graphics.setColor(0.9, 0.45, 0.4)
    love.graphics.print("[cancel]", w - 80, y)
  end
  love.graphics.setColor(0.6, 0.65, 0.7)
  local st = runctl.stats()
  love.graphics.print(("%s   |   in flight %d, tasks %d, polls %d"):format(note, st.in_engine, st.tasks, st.polls),
                      12, love.graphics.getHeight() - 26)
end
