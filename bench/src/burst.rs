//! The in-flight load generator: COUNT distinct pushes at once, over one HTTP/1.1 connection
//! each or as HTTP/2 streams, then one JSON line of what came back. It is async because ten
//! thousand pushes held open at once are not ten thousand threads.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cli::BurstArgs;
use crate::process::local;
use crate::push::{CREATED, parse_answer, push_body, request};

/// What the burst client reports.
#[derive(Serialize, Deserialize)]
pub struct BurstReport {
    pub count: usize,
    pub created: usize,
    pub statuses: BTreeMap<String, usize>,
    pub errors: Vec<String>,
    /// When the last push was written; not seen through an HTTP/2 client.
    pub all_sent_ms: Option<u64>,
    pub first_done_ms: u64,
    pub median_done_ms: u64,
    pub last_done_ms: u64,
}

pub fn burst(args: &BurstArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(burst_async(args))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn burst_async(args: &BurstArgs) -> anyhow::Result<BurstReport> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let started = Instant::now();
    let timeout = Duration::from_secs(args.timeout_secs);
    let url = format!("http://127.0.0.1:{}/", args.port);
    // One client per connection: a client keeps one HTTP/2 connection per host.
    let clients = (0..args.http2_connections.unwrap_or(0))
        .map(|_| {
            reqwest::Client::builder()
                .http2_prior_knowledge()
                .timeout(timeout)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.count {
        let body = push_body(&format!("{}-{i}", args.id_prefix));
        let port = args.port;
        let client = clients.get(i % clients.len().max(1)).cloned();
        let url = url.clone();
        tasks.spawn(async move {
            let exchange = async {
                if let Some(client) = client {
                    let response = client
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?;
                    let status = response.status().as_u16();
                    return anyhow::Ok((None, (status, response.text().await?)));
                }
                let raw = request("POST", "/", &body);
                let mut stream = tokio::net::TcpStream::connect(local(port)).await?;
                stream.write_all(raw.as_bytes()).await?;
                let sent = started.elapsed();
                let mut answer = Vec::new();
                stream.read_to_end(&mut answer).await?;
                anyhow::Ok((Some(sent), parse_answer(&answer)?))
            };
            match tokio::time::timeout(timeout, exchange).await {
                Ok(Ok((sent, (status, body)))) => Ok((
                    sent,
                    started.elapsed(),
                    status,
                    status == 200 && body.contains(CREATED),
                )),
                Ok(Err(error)) => Err(format!("{error:#}")),
                Err(_) => Err(format!("no answer within {timeout:?}")),
            }
        });
    }
    let mut report = BurstReport {
        count: args.count,
        created: 0,
        statuses: BTreeMap::new(),
        errors: Vec::new(),
        all_sent_ms: None,
        first_done_ms: 0,
        median_done_ms: 0,
        last_done_ms: 0,
    };
    let mut done = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined? {
            Ok((sent, finished, status, created)) => {
                *report.statuses.entry(status.to_string()).or_default() += 1;
                report.created += usize::from(created);
                if let Some(sent) = sent {
                    let sent = sent.as_millis() as u64;
                    report.all_sent_ms = Some(report.all_sent_ms.map_or(sent, |all| all.max(sent)));
                }
                done.push(finished.as_millis() as u64);
            }
            Err(error) => {
                if report.errors.len() < 5 {
                    report.errors.push(error);
                }
                *report.statuses.entry("error".to_owned()).or_default() += 1;
            }
        }
    }
    done.sort_unstable();
    report.first_done_ms = done.first().copied().unwrap_or_default();
    report.median_done_ms = done.get(done.len() / 2).copied().unwrap_or_default();
    report.last_done_ms = done.last().copied().unwrap_or_default();
    Ok(report)
}
