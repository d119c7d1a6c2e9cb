//! `psc console`: a small web page on 127.0.0.1 (being built).

use std::sync::Arc;

use crate::client::Client;

/// Serves the console on 127.0.0.1:`port` (0: a free port) until Ctrl-C.
pub async fn run(client: Arc<Client>, port: u16) -> anyhow::Result<()> {
    let _ = (client, port);
    anyhow::bail!("psc console is not built yet")
}
