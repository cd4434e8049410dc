-- examples/love/conf.lua — a small window; no sound (the example needs none).
function love.conf(t)
  t.identity = "runctl-jobs"
  t.window.title = "runctl — active jobs"
  t.window.width, t.window.height = 900, 420
  t.modules.audio, t.modules.sound, t.modules.joystick, t.modules.physics = false, false, false, false
end
