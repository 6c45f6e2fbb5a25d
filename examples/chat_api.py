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
    # HTTP/1.1 as inference APIs speak it: kept-alive connections, and streams sent chunked
    # (an HTTP/1.0 answer could only end by closing its connection).
    protocol_version = "HTTP/1.1"

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if request.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for word in ["Hello", ", ", "agent"]:
                chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
                self.chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.chunk(b"data: " + json.dumps({"choices": [], "usage": USAGE}).encode() + b"\n\n")
            self.chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
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


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), ChatAPI).serve_forever()
