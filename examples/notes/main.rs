//! `notes`: the bundled stateful example service. A tiny HTTP server that keeps
//! notes in a SQLite database in its data directory, the way the platform's
//! services keep their state: WAL mode, one connection held for the process's
//! life. Linked statically with Debian's `libsqlite3.a` (package libsqlite3-dev)
//! so its image can be `FROM scratch`.
//!
//! It listens on `0.0.0.0:$PORT` and answers `GET /healthz` with `ok`, `POST
//! /notes` (the body is the note) with `ok <id>`, `GET /notes` with every note, one
//! per line, and `GET /` with its name, version, port and note count. Environment:
//! `NOTES_NAME` (default `notes`: the service's name), `NOTES_DB` (where the
//! database is; see [`db_path`] for the default), `NOTES_VERSION` (set by the image
//! build).

use std::net::TcpListener;

#[path = "../hello/http.rs"]
mod http;

fn main() {
    http::sigterm::exit_on_sigterm();
    let env = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_owned());
    let name = env("NOTES_NAME", "notes");
    let version = env("NOTES_VERSION", "dev");
    let path = std::env::var("NOTES_DB").unwrap_or_else(|_| db_path(&name));
    let port: u16 = env("PORT", "8080").parse().unwrap_or(8080);
    let db = match sqlite::Db::open(&path).and_then(|db| {
        db.exec(
            "PRAGMA journal_mode=WAL; \
             CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
        )?;
        Ok(db)
    }) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("{name}: {path}: {e}");
            std::process::exit(1);
        }
    };
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{name}: cannot listen on 0.0.0.0:{port}: {e}");
            std::process::exit(1);
        }
    };
    println!("{name} {version} listening on 0.0.0.0:{port}, notes in {path}");
    for stream in listener.incoming().flatten() {
        let Some(request) = http::read_request(&stream) else {
            continue;
        };
        let answer = match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/healthz") => Ok(Some("ok\n".to_owned())),
            ("GET", "/") => db
                .notes()
                .map(|n| Some(format!("{name} {version} port={port} notes={}\n", n.len()))),
            ("GET", "/notes") => db.notes().map(|n| Some(n.concat())),
            ("POST", "/notes") => {
                let text = String::from_utf8_lossy(&request.body).trim().to_owned();
                db.add(&text).map(|id| Some(format!("ok {id}\n")))
            }
            _ => Ok(None),
        };
        match answer {
            Ok(body) => http::respond(stream, body),
            Err(e) => {
                eprintln!("{name}: {e}");
                http::respond(stream, None);
            }
        }
    }
}

/// `notes.db` in the service's data directory. The platform mounts
/// `<data_root>/<service>` at the same path as on the host, and data roots differ
/// between nodes, so the directory is found in the mount table: the mount point
/// named after the service. `/srv/<name>` when there is none.
fn db_path(name: &str) -> String {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let dir = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .find(|point| std::path::Path::new(point).file_name() == Some(name.as_ref()))
        .map_or_else(|| format!("/srv/{name}"), str::to_owned);
    format!("{dir}/notes.db")
}

/// The few SQLite calls the service makes, over the C API.
#[allow(unsafe_code)]
mod sqlite {
    use std::ffi::{CStr, CString, c_char, c_int, c_void};

    const SQLITE_OK: c_int = 0;
    const SQLITE_ROW: c_int = 100;
    const SQLITE_DONE: c_int = 101;
    /// `SQLITE_TRANSIENT`: SQLite copies the bound text.
    const TRANSIENT: isize = -1;

    #[link(name = "sqlite3", kind = "static")]
    unsafe extern "C" {
        fn sqlite3_open(filename: *const c_char, db: *mut *mut c_void) -> c_int;
        fn sqlite3_errmsg(db: *mut c_void) -> *const c_char;
        fn sqlite3_exec(
            db: *mut c_void,
            sql: *const c_char,
            callback: *const c_void,
            arg: *mut c_void,
            errmsg: *mut *mut c_char,
        ) -> c_int;
        fn sqlite3_prepare_v2(
            db: *mut c_void,
            sql: *const c_char,
            len: c_int,
            stmt: *mut *mut c_void,
            tail: *mut *const c_char,
        ) -> c_int;
        fn sqlite3_bind_text(
            stmt: *mut c_void,
            index: c_int,
            text: *const c_char,
            len: c_int,
            destructor: isize,
        ) -> c_int;
        fn sqlite3_step(stmt: *mut c_void) -> c_int;
        fn sqlite3_column_text(stmt: *mut c_void, col: c_int) -> *const c_char;
        fn sqlite3_finalize(stmt: *mut c_void) -> c_int;
        fn sqlite3_last_insert_rowid(db: *mut c_void) -> i64;
    }

    /// An open database (never closed: the process holds it until it exits).
    pub struct Db(*mut c_void);

    fn c(text: &str) -> Result<CString, String> {
        CString::new(text).map_err(|_| "a NUL byte in the text".to_owned())
    }

    impl Db {
        pub fn open(path: &str) -> Result<Db, String> {
            let mut db = std::ptr::null_mut();
            let path = c(path)?;
            // SAFETY: a valid C string and an out pointer.
            let rc = unsafe { sqlite3_open(path.as_ptr(), &mut db) };
            let db = Db(db);
            if rc != SQLITE_OK {
                return Err(db.error());
            }
            Ok(db)
        }

        fn error(&self) -> String {
            // SAFETY: errmsg returns a NUL-terminated string owned by SQLite.
            unsafe { CStr::from_ptr(sqlite3_errmsg(self.0)) }
                .to_string_lossy()
                .into_owned()
        }

        pub fn exec(&self, sql: &str) -> Result<(), String> {
            let sql = c(sql)?;
            // SAFETY: an open handle, a valid C string, no callback.
            let rc = unsafe {
                sqlite3_exec(
                    self.0,
                    sql.as_ptr(),
                    std::ptr::null(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            if rc == SQLITE_OK {
                Ok(())
            } else {
                Err(self.error())
            }
        }

        /// Runs `sql` with `param` bound to `?1`, calling `row` with the first
        /// column of each row.
        fn query(
            &self,
            sql: &str,
            param: Option<&str>,
            mut row: impl FnMut(String),
        ) -> Result<(), String> {
            let sql = c(sql)?;
            let mut stmt = std::ptr::null_mut();
            // SAFETY: an open handle, a valid C string, out pointers.
            let rc = unsafe {
                sqlite3_prepare_v2(self.0, sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut())
            };
            if rc != SQLITE_OK {
                return Err(self.error());
            }
            let result = (|| {
                if let Some(p) = param {
                    let len = c_int::try_from(p.len()).map_err(|_| "too long".to_owned())?;
                    // SAFETY: a prepared statement; SQLite copies the text.
                    let rc =
                        unsafe { sqlite3_bind_text(stmt, 1, p.as_ptr().cast(), len, TRANSIENT) };
                    if rc != SQLITE_OK {
                        return Err(self.error());
                    }
                }
                loop {
                    // SAFETY: a prepared statement.
                    match unsafe { sqlite3_step(stmt) } {
                        SQLITE_ROW => {
                            // SAFETY: column 0 of the current row; NULL for no text.
                            let text = unsafe { sqlite3_column_text(stmt, 0) };
                            if !text.is_null() {
                                // SAFETY: NUL-terminated, valid until the next step.
                                row(unsafe { CStr::from_ptr(text) }
                                    .to_string_lossy()
                                    .into_owned());
                            }
                        }
                        SQLITE_DONE => return Ok(()),
                        _ => return Err(self.error()),
                    }
                }
            })();
            // SAFETY: finalized once.
            unsafe { sqlite3_finalize(stmt) };
            result
        }

        /// Adds a note; returns its id.
        pub fn add(&self, text: &str) -> Result<i64, String> {
            self.query("INSERT INTO notes (text) VALUES (?1)", Some(text), |_| {})?;
            // SAFETY: an open handle.
            Ok(unsafe { sqlite3_last_insert_rowid(self.0) })
        }

        /// Every note, in order, each ending with a newline.
        pub fn notes(&self) -> Result<Vec<String>, String> {
            let mut notes = Vec::new();
            self.query("SELECT text FROM notes ORDER BY id", None, |t| {
                notes.push(format!("{t}\n"))
            })?;
            Ok(notes)
        }
    }
}
