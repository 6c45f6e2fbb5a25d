"""A stand-in for an inference API, for the README's metered chat-completions recipe.

POST /v1/chat/completions answers like OpenAI's chat completions: a JSON document with a
`usage` object, or with `"stream": true` in the request a server-sent-events stream whose
last event carries the usage. Every answer says 1200 prompt and 300 completion tokens.

    python3 examples/chat_api.py PORT
"""

import http.server
import json
import sys

USAGE = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500}


class ChatAPI(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if request.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for word in ["Hello", ", ", "agent"]:
                chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.write(b"data: " + json.dumps({"choices": [], "usage": USAGE}).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            return
        answer = {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, agent"}}],
            "usage": USAGE,
        }
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), ChatAPI).serve_forever()
