-- tests/hosts/love/conf.lua — headless: no window, graphics or sound, so the
-- test runs without a display.
function love.conf(t)
  t.identity = "runctl-host-test"
  t.window = false
  for _, m in ipairs { "window", "graphics", "audio", "sound", "joystick", "touch", "video", "physics" } do
    t.modules[m] = false
  end
end
