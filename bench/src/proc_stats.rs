//! Server process measurements from /proc: CPU time and resident memory,
//! and a helper to start the release server as a child process.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// CPU seconds (user + system) used so far by process `pid`.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    Ok(ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    // sysconf(_SC_CLK_TCK) is 100 on every Linux we run on.
    100.0
}

/// Resident set size of `pid` in MiB.
pub fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Ok(kb / 1024.0)
}

/// Measures a process's CPU use over a window.
pub struct CpuWindow {
    pid: u32,
    cpu0: f64,
    t0: Instant,
}

impl CpuWindow {
    /// Start measuring now.
    pub fn start(pid: u32) -> anyhow::Result<Self> {
        Ok(CpuWindow {
            pid,
            cpu0: cpu_seconds(pid)?,
            t0: Instant::now(),
        })
    }

    /// CPU use since start, in percent of one core.
    pub fn percent(&self) -> anyhow::Result<f64> {
        let dt = self.t0.elapsed().as_secs_f64().max(1e-6);
        Ok((cpu_seconds(self.pid)? - self.cpu0) / dt * 100.0)
    }
}

/// A framecast server child process, killed on drop.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl ServerProcess {
    /// Start `binary` (default `target/release/framecast`) with `args`,
    /// listening on a free loopback port, and wait until /healthz answers.
    pub async fn start(binary: Option<&str>, args: &[&str]) -> anyhow::Result<Self> {
        let port = free_port()?;
        let bin = binary.unwrap_or("target/release/framecast");
        let listen = format!("127.0.0.1:{port}");
        // Logs are on stderr since the server moved them there: keep the
        // tables readable (warnings still show) unless RUST_LOG says otherwise.
        let log = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        let child = Command::new(bin)
            .env("RUST_LOG", log)
            .arg("serve")
            .args(["--listen", &listen])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot start {bin}: {e} (run `cargo build --release` first)")
            })?;
        let url = format!("http://{listen}");
        let mut proc = ServerProcess { child, url };
        proc.wait_healthy(Duration::from_secs(20)).await?;
        Ok(proc)
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_healthy(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        let addr = self.url.trim_start_matches("http://").to_string();
        while Instant::now() < deadline {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("the server exited before listening ({status}); see its log above");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("server did not start listening within {limit:?}")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on loopback (bound then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Percentile (0-100) of a sorted slice.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
