-- bench/love/conf.lua — headless: the benchmark needs no window.
function love.conf(t)
  t.identity = "runctl-bench"
  t.window = false
  for _, m in ipairs { "window", "graphics", "audio", "sound", "joystick", "touch", "video", "physics" } do
    t.modules[m] = false
  end
end
