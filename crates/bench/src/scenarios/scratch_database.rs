//! A PostgreSQL database that exists for one run: created on the server of `--postgres-url`
//! under a generated name, handed to PAKE as its `database_url`, and dropped after the server
//! has stopped (also when the run failed, as far as a drop can).

use anyhow::Context;
use sqlx::Connection;

/// A fresh database; [`ScratchDatabase::drop_database`] removes it.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    /// The URL of the fresh database (the admin URL with its database name replaced).
    pub url: String,
}

impl ScratchDatabase {
    /// Creates `pake_bench_<pid>_<random>` on the server of `admin_url`.
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let name = format!(
            "pake_bench_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("connecting to --postgres-url {admin_url}"))?;
        // `name` is made of ASCII letters, digits and underscores only (above).
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating the database {name}"))?;
        admin.close().await.ok();
        let url = with_database_name(admin_url, &name)?;
        Ok(ScratchDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    /// Drops the database (connections still open to it are terminated).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .with_context(|| format!("dropping the database {}", self.name))?;
        admin.close().await.ok();
        Ok(())
    }
}

/// `url` with its path (the database name) replaced by `name`, query string kept.
fn with_database_name(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base
        .find("://")
        .map(|index| index + 3)
        .context("--postgres-url must look like postgres://user@host:port/database")?;
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |index| index + authority_start);
    let mut replaced = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        replaced.push('?');
        replaced.push_str(query);
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::with_database_name;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        let replace = |url| with_database_name(url, "fresh").ok();
        assert_eq!(
            replace("postgres://postgres@127.0.0.1:5432/postgres").as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/fresh")
        );
        assert_eq!(
            replace("postgres://u:p@db/x?sslmode=disable").as_deref(),
            Some("postgres://u:p@db/fresh?sslmode=disable")
        );
        assert_eq!(
            replace("postgres://u@db").as_deref(),
            Some("postgres://u@db/fresh")
        );
        assert_eq!(replace("not a url"), None);
    }
}
