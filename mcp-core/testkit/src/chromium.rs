//! A real browser for the dashboard's tests: Debian's Chromium, headless,
//! driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
//! JSON messages ended by NUL on file descriptors 3 and 4, no port, no
//! WebSocket). [`Browser`] opens one page and can load an address, evaluate
//! script in it, press keys, switch light and dark, and take a screenshot.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// How long one DevTools call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A headless Chromium with one page.
#[derive(Debug)]
pub struct Browser {
    child: Child,
    to: ChildStdin,
    from: Receiver<Value>,
    next: u64,
    session: String,
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium (`/usr/bin/chromium`, else `chromium` on `PATH`) with a
    /// profile of its own and opens a 1280×900 page.
    pub fn start() -> Result<Browser, String> {
        let program = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("chromium");
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let log = std::fs::File::create(profile.path().join("chromium.log"))
            .map_err(|e| e.to_string())?;
        // The pipe is descriptors 3 (commands in) and 4 (replies out): the
        // shell moves this side's stdin and stdout there.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg(program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--window-size=1280,900",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{program} (apt-get install chromium): {e}"))?;
        let to = child.stdin.take().ok_or("no stdin")?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let (tx, from) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(out);
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                buf.pop_if(|b| *b == 0);
                if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(v).is_err()
                {
                    return;
                }
                buf.clear();
            }
        });
        let mut b = Browser {
            child,
            to,
            from,
            next: 0,
            session: String::new(),
            profile,
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}))?;
        let id = target["targetId"]
            .as_str()
            .ok_or("no target id")?
            .to_owned();
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": id, "flatten": true}),
        )?;
        b.session = attached["sessionId"]
            .as_str()
            .ok_or("no session id")?
            .to_owned();
        b.call("Page.enable", json!({}))?;
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        Ok(b)
    }

    /// Calls DevTools method `method` (on the page, once attached); its result.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(|e| e.to_string())?;
        bytes.push(0);
        self.to
            .write_all(&bytes)
            .and_then(|()| self.to.flush())
            .map_err(|e| format!("{method}: {e}{}", self.log()))?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from.recv_timeout(left) {
                Ok(reply) if reply["id"] == json!(id) => {
                    if let Some(e) = reply.get("error") {
                        return Err(format!("{method}: {e}"));
                    }
                    return Ok(reply["result"].clone());
                }
                Ok(_event) => {}
                Err(RecvTimeoutError::Timeout) => return Err(format!("{method}: no reply")),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{method}: Chromium ended{}", self.log()));
                }
            }
        }
    }

    /// Loads `url` and waits until the document is complete.
    pub fn goto(&mut self, url: &str) -> Result<(), String> {
        let r = self.call("Page.navigate", json!({"url": url}))?;
        if let Some(e) = r.get("errorText") {
            return Err(format!("{url}: {e}"));
        }
        self.wait_for(
            "the page to load",
            "document.readyState === 'complete'",
            Duration::from_secs(15),
        )
        .map(drop)
    }

    /// The value of `expression` in the page (promises awaited).
    pub fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("{expression}: {e}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Evaluates `expression` every 100 ms until it is truthy (its value),
    /// for at most `timeout`.
    pub fn wait_for(
        &mut self,
        what: &str,
        expression: &str,
        timeout: Duration,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            // Between documents an evaluation may fail: asked again.
            let v = self.eval(expression).unwrap_or(Value::Null);
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return Ok(v);
            }
            if Instant::now() >= deadline {
                return Err(format!("never: {what} ({expression} was {v})"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Presses and releases `key`: `Tab`, `Enter`, or one character.
    pub fn press(&mut self, key: &str) -> Result<(), String> {
        let (code, vk, text) = match key {
            "Tab" => ("Tab".to_owned(), 9, None),
            "Enter" => ("Enter".to_owned(), 13, Some("\r".to_owned())),
            c => (String::new(), 0, Some(c.to_owned())),
        };
        let mut down =
            json!({"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk});
        if let Some(t) = text {
            down["text"] = json!(t);
        }
        self.call("Input.dispatchKeyEvent", down)?;
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk}),
        )
        .map(drop)
    }

    /// Shows pages as a browser set to dark (`true`) or light mode would.
    pub fn dark(&mut self, dark: bool) -> Result<(), String> {
        let value = if dark { "dark" } else { "light" };
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
        )
        .map(drop)
    }

    /// Writes a PNG of the page as shown to `path`.
    pub fn screenshot(&mut self, path: &Path) -> Result<(), String> {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}))?;
        let data = r["data"].as_str().ok_or("no screenshot data")?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The end of Chromium's log, for an error message.
    fn log(&self) -> String {
        let text =
            std::fs::read_to_string(self.profile.path().join("chromium.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("\nchromium's log:\n{}", tail.join("\n"))
    }
}

impl Drop for Browser {
    /// Asks Chromium to close (so its helper processes end with it), and
    /// kills it when it has not within 5 s.
    fn drop(&mut self) {
        self.session.clear();
        let _ = self.call("Browser.close", json!({}));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
