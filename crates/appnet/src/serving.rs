//! Running services in the foreground: the table of what listens where and how to try it, then
//! serving until SIGINT/SIGTERM. Shared by `appnet up` and the single-service `serve` commands.

use std::net::SocketAddr;
use std::process::ExitCode;

use appnet_core::config::Seconds;
use appnet_core::lifecycle::{Services, StopReason};

/// One line of the table: a service that is listening and a command line that talks to it.
pub struct ServiceRow {
    pub service: String,
    pub transport: &'static str,
    pub address: SocketAddr,
    pub try_it: String,
}

/// Prints `rows`, serves until a stop signal, and reports how the services ended.
pub async fn serve_until_signal(
    services: Services,
    rows: &[ServiceRow],
    grace: Seconds,
) -> ExitCode {
    print!("{}", render_table(rows));
    println!(
        "appnet: {} service(s) running; Ctrl-C stops them.",
        rows.len()
    );
    match services.run_until_signal(grace.0).await {
        StopReason::Signal(signal) => {
            println!("appnet: {signal} received; stopped.");
            ExitCode::SUCCESS
        }
        StopReason::AllEnded => ExitCode::SUCCESS,
        StopReason::Failed(service, err) => {
            eprintln!("appnet: {service} failed: {err}; stopped the others.");
            ExitCode::FAILURE
        }
    }
}

fn render_table(rows: &[ServiceRow]) -> String {
    let headers = ["SERVICE", "PROTO", "ADDRESS", "TRY IT"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|row| {
            [
                row.service.clone(),
                row.transport.to_owned(),
                row.address.to_string(),
                row.try_it.clone(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..3)
        .map(|col| {
            cells
                .iter()
                .map(|c| c[col].chars().count())
                .chain([headers[col].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cols: [&str; 4]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
            cols[0],
            cols[1],
            cols[2],
            cols[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
    };
    let mut table = line(headers);
    for c in &cells {
        table.push_str(&line([&c[0], &c[1], &c[2], &c[3]]));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_columns() {
        let rows = [ServiceRow {
            service: "udp upper-case echo".into(),
            transport: "udp",
            address: "127.0.0.1:12000".parse().unwrap(),
            try_it: "appnet udp send 127.0.0.1:12000 hello".into(),
        }];
        let table = render_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0].find("ADDRESS"), lines[1].find("127.0.0.1"));
        assert_eq!(lines[0].find("TRY IT"), lines[1].find("appnet udp send"));
    }
}
