//! The harness's own guarantees: each backend gives a fresh, empty, migratable database.

use pake_runtime::db::Database;

async fn open(database: Database) -> Database {
    database
        .migrate(pake_identity_like_migrations())
        .await
        .expect("migrations apply on a fresh database");
    database
}

fn pake_identity_like_migrations() -> pake_runtime::db::Migrations {
    pake_runtime::db::Migrations {
        service: "harness",
        sqlite: sqlx::migrate!("./tests/migrations"),
        postgres: sqlx::migrate!("./tests/migrations"),
    }
}

async fn starts_empty_and_isolated(database: Database) {
    let count = match &database {
        Database::Sqlite(pool) => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM harness_probe")
                .fetch_one(pool)
                .await
        }
        Database::Postgres(pool) => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM harness_probe")
                .fetch_one(pool)
                .await
        }
    }
    .expect("count");
    assert_eq!(count, 0, "a fresh database per test");
    let insert = "INSERT INTO harness_probe (id) VALUES (1)";
    match &database {
        Database::Sqlite(pool) => sqlx::query(insert).execute(pool).await.map(|_| ()),
        Database::Postgres(pool) => sqlx::query(insert).execute(pool).await.map(|_| ()),
    }
    .expect("insert");
}

async fn migrations_are_idempotent(database: Database) {
    database
        .migrate(pake_identity_like_migrations())
        .await
        .expect("second run is a no-op");
}

pake_testkit::store_conformance_suite!(open; starts_empty_and_isolated, migrations_are_idempotent);
