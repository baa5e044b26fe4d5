-- The device gateway of a Jetson fleet (OpenResty, in every serving pod).
--
-- Every POST to /v1 is read whole (the body limit is the buffer size, so nothing spills to disk),
-- then: tool calls are refused unless declared, max_tokens is capped, prompts longer than the
-- limit and prompts carrying credentials are refused, and, where the device group runs the guard,
-- Llama Guard in the device's own Ollama classifies the prompt before the model sees it and the
-- answer of a non-streamed request before the caller does. Any guard failure refuses the request.
--
-- The pure functions (no ngx) are exported for tests; access() is the nginx access phase.

local M = {}

local policy = {
  tools = false,
  max_output_tokens = 2048,
  max_input_tokens = nil,
  input = true,
  output = "non_streaming",
  blocked_message = "This request was blocked by the content policy.",
  secret_patterns = {},
  prompts = {},
  guard_model = "",
}

M.null = nil -- cjson.null once loaded

function M.configure(settings)
  for key, value in pairs(settings) do
    policy[key] = value
  end
  return policy
end

-- Special tokens and conversation markers a caller could use to forge the guard's verdict
-- (the guard prompt is sent raw) are broken up before the text enters the guard's template.
function M.escape(text)
  text = text:gsub("<|", "< |")
  text = text:gsub("<BEGIN", "< BEGIN")
  text = text:gsub("<END", "< END")
  return text
end

local function text_of(content)
  if type(content) == "string" then
    return content
  end
  if type(content) ~= "table" then
    return ""
  end
  local parts = {}
  for _, part in ipairs(content) do
    if type(part) == "table" and part.type == "text" and type(part.text) == "string" then
      parts[#parts + 1] = part.text
    end
  end
  return table.concat(parts, "\n")
end

-- What the caller sends: every message but the assistant's own turns, or the completion prompt.
function M.prompt_text(body)
  local parts = {}
  if type(body.messages) == "table" then
    for _, message in ipairs(body.messages) do
      if type(message) == "table" and message.role ~= "assistant" then
        parts[#parts + 1] = text_of(message.content)
      end
    end
  end
  local prompt = body.prompt
  if type(prompt) == "string" then
    parts[#parts + 1] = prompt
  elseif type(prompt) == "table" then
    for _, item in ipairs(prompt) do
      if type(item) == "string" then
        parts[#parts + 1] = item
      end
    end
  end
  return table.concat(parts, "\n")
end

-- What the model answered in a non-streamed chat or completion response.
function M.response_text(body)
  local parts = {}
  if type(body.choices) == "table" then
    for _, choice in ipairs(body.choices) do
      if type(choice) == "table" then
        if type(choice.message) == "table" then
          parts[#parts + 1] = text_of(choice.message.content)
        elseif type(choice.text) == "string" then
          parts[#parts + 1] = choice.text
        end
      end
    end
  end
  return table.concat(parts, "\n")
end

local function present(value)
  return value ~= nil and value ~= M.null
end

-- Limits every request obeys; returns a status and message when the request is refused.
-- Caps max_tokens (and sets it when absent) in place.
function M.limit(body)
  if not policy.tools then
    for _, key in ipairs({ "tools", "tool_choice", "functions", "function_call" }) do
      if present(body[key]) then
        return 400, "tool calls are not enabled on this deployment"
      end
    end
  end
  local cap = policy.max_output_tokens
  local asked = false
  for _, key in ipairs({ "max_tokens", "max_completion_tokens" }) do
    local value = body[key]
    if present(value) then
      if type(value) ~= "number" or value < 1 or value % 1 ~= 0 then
        return 400, key .. " must be a positive integer"
      end
      if value > cap then
        body[key] = cap
      end
      asked = true
    end
  end
  if not asked then
    body.max_tokens = cap
  end
  return nil
end

-- Prompt length (estimated at 4 characters per token) and credentials in the caller's text.
function M.screen_limits(text)
  local most = policy.max_input_tokens
  if most and #text > most * 4 then
    return 400, "the prompt is longer than the " .. most .. " tokens this deployment admits"
  end
  for _, pattern in ipairs(policy.secret_patterns) do
    if text:find(pattern) then
      return 400, policy.blocked_message
    end
  end
  return nil
end

-- The Llama Guard prompt that classifies the last User (prompt) or Agent (response) turn.
function M.guard_prompt(role, user, agent)
  local template = policy.prompts[role]
  local conversation = "User: " .. M.escape(user)
  if agent then
    conversation = conversation .. "\n\nAgent: " .. M.escape(agent)
  end
  return template.head .. conversation .. template.tail
end

-- "safe", or "unsafe" and the categories; nil when the output is neither (treated as a failure).
function M.verdict(output)
  if type(output) ~= "string" then
    return nil
  end
  local first = output:match("^%s*(%a+)")
  if first == "safe" then
    return "safe"
  end
  if first == "unsafe" then
    return "unsafe", output:match("^%s*unsafe[ \t]*\r?\n%s*([^\n]+)") or ""
  end
  return nil
end

-- nginx phases ----------------------------------------------------------------------------------

local cjson

function M.init(path)
  cjson = require("cjson.safe")
  M.null = cjson.null
  local file = assert(io.open(path, "r"))
  local settings = assert(cjson.decode(file:read("*a")))
  file:close()
  settings.guard_model = os.getenv("GUARD_MODEL") or ""
  M.configure(settings)
end

local function reject(status, message)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  local kind = status == 400 and "invalid_request_error" or "service_unavailable"
  ngx.say(cjson.encode({ error = { message = message, type = kind, code = status } }))
  return ngx.exit(status)
end

local function screen(role, user, agent)
  local request = {
    model = policy.guard_model,
    prompt = M.guard_prompt(role, user, agent),
    raw = true,
    stream = false,
    keep_alive = -1,
    options = { temperature = 0, num_predict = 16 },
  }
  local res = ngx.location.capture("/_guard", { method = ngx.HTTP_POST, body = cjson.encode(request) })
  if res.status ~= 200 then
    return 503, "content screening is unavailable"
  end
  local answer = cjson.decode(res.body)
  local verdict, categories = M.verdict(type(answer) == "table" and answer.response or nil)
  if verdict == "safe" then
    return nil
  end
  if verdict == "unsafe" then
    ngx.log(ngx.WARN, "guard refused a ", role == "User" and "prompt" or "response", ": ", categories)
    return 400, policy.blocked_message
  end
  return 503, "content screening returned no verdict"
end

function M.access()
  if ngx.req.get_method() ~= "POST" then
    return
  end
  ngx.req.read_body()
  local raw = ngx.req.get_body_data()
  if raw == nil then
    return reject(413, "the request body is larger than this deployment admits")
  end
  local body = cjson.decode(raw)
  if type(body) ~= "table" then
    return reject(400, "the request body must be a JSON object")
  end
  local status, message = M.limit(body)
  if status then
    return reject(status, message)
  end
  local text = M.prompt_text(body)
  status, message = M.screen_limits(text)
  if status then
    return reject(status, message)
  end
  local guarded = policy.guard_model ~= ""
  if guarded and policy.input then
    status, message = screen("User", text, nil)
    if status then
      return reject(status, message)
    end
  end
  local encoded = cjson.encode(body)
  ngx.req.set_body_data(encoded)
  if not (guarded and policy.output == "non_streaming" and body.stream ~= true) then
    return
  end
  local res = ngx.location.capture("/_model" .. ngx.var.uri, { method = ngx.HTTP_POST, body = encoded })
  if res.status == 200 then
    local answer = cjson.decode(res.body)
    local said = type(answer) == "table" and M.response_text(answer) or ""
    if said ~= "" then
      status, message = screen("Agent", text, said)
      if status then
        return reject(status, message)
      end
    end
  end
  ngx.status = res.status
  ngx.header["Content-Type"] = res.header["Content-Type"]
  ngx.print(res.body)
  return ngx.exit(res.status)
end

return M
