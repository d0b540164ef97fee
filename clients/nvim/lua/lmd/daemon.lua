-- Where lmd listens, and starting it when nothing does.
local uv = vim.loop
local rpc = require("lmd.rpc")

local M = {}

--- lmd's rule: $XDG_RUNTIME_DIR/lmd.sock when that is set, else /tmp/lmd-$UID/lmd.sock.
function M.default_socket()
  local runtime = vim.env.XDG_RUNTIME_DIR
  if runtime and runtime ~= "" then
    return runtime .. "/lmd.sock"
  end
  return string.format("/tmp/lmd-%d/lmd.sock", uv.getuid())
end

--- The command to run: `lmd_cmd` (a string or a list whose first item is the program) + the arguments.
function M.command(config)
  local cmd = config.lmd_cmd or "lmd"
  local argv = type(cmd) == "table" and vim.deepcopy(cmd) or { cmd }
  vim.list_extend(argv, { "--model", vim.fn.expand(config.model), "--socket", config.socket })
  vim.list_extend(argv, config.lmd_args or {})
  return argv
end

local function last_line(path)
  local ok, lines = pcall(vim.fn.readfile, path, "", -20)
  if not ok or #lines == 0 then
    return "no message"
  end
  for i = #lines, 1, -1 do
    if lines[i]:match("%S") then
      return lines[i]
    end
  end
  return "no message"
end

--- Starts lmd in its own session (it outlives this Neovim and serves others too; its log is
--- <socket>.log) and connects to it once it answers. `callback(conn, nil, process)` or
--- `callback(nil, err, process)` on the main loop; process = { pid, handle, exited, status, log }.
function M.start(config, callback)
  local socket = config.socket
  local folder = vim.fn.fnamemodify(socket, ":h")
  if vim.fn.isdirectory(folder) == 0 then
    uv.fs_mkdir(folder, 448) -- 0700: anyone who could write there could put their own socket in lmd's place
  end
  local argv = M.command(config)
  local log_path = socket .. ".log"
  local log_fd = uv.fs_open(log_path, "a", 384) -- 0600
  local null_in, null_out = uv.fs_open("/dev/null", "r", 0), uv.fs_open("/dev/null", "w", 0)
  local process = { log = log_path, argv = argv, exited = false }
  local handle, pid_or_err = uv.spawn(argv[1], {
    args = vim.list_slice(argv, 2),
    stdio = { null_in, null_out, log_fd or null_out },
    detached = true,
  }, function(code, signal)
    process.exited = true
    process.status = signal ~= 0 and (128 + signal) or code
    if process.handle and not process.handle:is_closing() then
      process.handle:close()
    end
  end)
  for _, fd in ipairs({ log_fd or false, null_in or false, null_out or false }) do
    if fd then
      uv.fs_close(fd)
    end
  end
  if not handle then
    return vim.schedule(function()
      callback(nil, string.format("cannot run %s: %s", argv[1], tostring(pid_or_err)), process)
    end)
  end
  handle:unref() -- Neovim need not wait for it to exit
  process.handle, process.pid = handle, pid_or_err

  local deadline = uv.now() + (config.start_timeout_ms or 60000)
  local timer = uv.new_timer()
  local function finish(conn, err)
    timer:stop()
    if not timer:is_closing() then
      timer:close()
    end
    callback(conn, err, process)
  end
  local attempting = false
  timer:start(100, 100, vim.schedule_wrap(function()
    if attempting or timer:is_closing() then
      return
    end
    if process.exited then
      return finish(nil, string.format("lmd exited with status %s: %s (log: %s)", tostring(process.status),
        last_line(log_path), log_path))
    end
    if uv.now() > deadline then
      return finish(nil, string.format("lmd did not answer on %s within %d s (log: %s)", socket,
        (config.start_timeout_ms or 60000) / 1000, log_path))
    end
    attempting = true
    rpc.connect(socket, function(conn)
      attempting = false
      if conn and not timer:is_closing() then
        finish(conn, nil)
      elseif conn then
        conn:close()
      end
    end)
  end))
end

return M
