//! Debian's chromium, headless, driven over the DevTools protocol to click through pages as a
//! person does: real mouse events on an element's box, real typing, the browser's own form
//! posts (with the headers a browser adds, `Sec-Fetch-Site` among them).
//!
//! The protocol runs over `--remote-debugging-pipe` (file descriptors 3 and 4, messages ended
//! by NUL) rather than a WebSocket: no port to find, no dependency for a WebSocket client, and
//! JSON is all there is to it. The pipe's ends are put on 3 and 4 by `sh`'s redirections, so
//! nothing needs `unsafe` code. The browser is a process group of its own (zygote, renderers,
//! crash handler), killed whole on drop, on success and on failure.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group};
use serde_json::{Value, json};

/// Longest a call, a navigation or a wait may take.
const LIMIT: Duration = Duration::from_secs(30);

/// A headless chromium and the one page it shows.
pub struct Browser {
    group: Group,
    input: ChildStdin,
    messages: Receiver<Value>,
    next: u64,
    session: String,
    _profile: tempfile::TempDir,
}

/// The browser's process group, killed whole on drop.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(group) = i32::try_from(self.0.id()).ok().and_then(Pid::from_raw) {
            let _ = kill_process_group(group, Signal::KILL);
        }
        let _ = self.0.wait();
    }
}

impl Browser {
    /// Starts chromium with a blank page whose every request carries `headers` (what a proxy
    /// in front of the service adds).
    pub fn start(headers: &[(&str, &str)]) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let script = format!(
            "exec chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
             --no-first-run --window-size=1280,900 --user-data-dir='{}' \
             --remote-debugging-pipe 3<&0 4>&1 </dev/null >/dev/null",
            profile.path().display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let input = child.stdin.take().unwrap();
        let output = child.stdout.take().unwrap();
        let (send, messages) = channel();
        std::thread::spawn(move || {
            let mut output = BufReader::new(output);
            let mut message = Vec::new();
            while output.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                if message.last() == Some(&0) {
                    message.pop();
                }
                if let Ok(value) = serde_json::from_slice(&message) {
                    if send.send(value).is_err() {
                        return;
                    }
                }
                message.clear();
            }
        });
        let mut browser = Browser {
            group: Group(child),
            input,
            messages,
            next: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser.call("Network.enable", json!({}));
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        browser.call("Network.setExtraHTTPHeaders", json!({"headers": headers}));
        browser
    }

    /// Calls `method` (on the page once there is one) and waits for its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.input
            .write_all(&bytes)
            .expect("chromium takes commands");
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(answer) if answer["id"] == id => {
                    assert!(answer.get("error").is_none(), "{method}: {answer}");
                    return answer["result"].clone();
                }
                Ok(_event) => {}
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no answer within {LIMIT:?}"),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.group.0.try_wait();
                    panic!("{method}: chromium is gone ({status:?})")
                }
            }
        }
    }

    /// The value of a JavaScript `expression` on the page.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Opens `url` and waits until the page has loaded.
    pub fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.until(&format!(
            "location.href == {} && document.readyState == 'complete'",
            json!(url)
        ));
    }

    /// Waits until the JavaScript `condition` holds on the page (which may be navigating).
    pub fn until(&mut self, condition: &str) {
        let deadline = Instant::now() + LIMIT;
        loop {
            let held = self.call(
                "Runtime.evaluate",
                json!({"expression": format!("!!({condition})"), "returnByValue": true}),
            );
            if held["result"]["value"] == true {
                return;
            }
            let page = self.call(
                "Runtime.evaluate",
                json!({"expression": "location.href + '\\n' + (document.body ? document.body.innerText : '')",
                       "returnByValue": true}),
            );
            assert!(
                Instant::now() < deadline,
                "not within {LIMIT:?}: {condition}\n{}",
                page["result"]["value"]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the middle of the element `selector` names, with the mouse.
    pub fn click(&mut self, selector: &str) {
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); e.scrollIntoView(); \
             const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            json!(selector)
        ));
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": at[0], "y": at[1], "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Types `text` into the element `selector` names, as a keyboard would.
    pub fn type_into(&mut self, selector: &str, text: &str) {
        self.eval(&format!(
            "document.querySelector({}).focus()",
            json!(selector)
        ));
        self.call("Input.insertText", json!({"text": text}));
    }

    /// Chooses `value` in the select element `selector` names.
    pub fn choose(&mut self, selector: &str, value: &str) {
        self.eval(&format!(
            "document.querySelector({}).value = {}",
            json!(selector),
            json!(value)
        ));
    }

    /// A PNG of what the page shows now, written to `path`.
    pub fn screenshot(&mut self, path: &std::path::Path) {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}
