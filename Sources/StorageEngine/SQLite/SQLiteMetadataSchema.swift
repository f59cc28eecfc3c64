import GRDB

/// The tables of the embedded metadata store. Tokens and sequences are UInt64 stored by bit
/// pattern in SQLite's signed 64-bit integers.
enum SQLiteMetadataSchema {
    /// Creates the tables that do not exist yet.
    static func create(in db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS bucket (
                    name TEXT PRIMARY KEY NOT NULL,
                    created_ms INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS object (
                    bucket TEXT NOT NULL,
                    key TEXT NOT NULL,
                    version_id TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    etag TEXT NOT NULL,
                    last_modified_ms INTEGER NOT NULL,
                    commit_sequence INTEGER NOT NULL,
                    content_headers TEXT NOT NULL,
                    user_metadata TEXT NOT NULL,
                    checksums TEXT NOT NULL,
                    segments TEXT NOT NULL,
                    fence_lock TEXT,
                    fence_token INTEGER,
                    PRIMARY KEY (bucket, key)
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS upload (
                    upload_id TEXT PRIMARY KEY NOT NULL,
                    bucket TEXT NOT NULL,
                    key TEXT NOT NULL,
                    initiated_ms INTEGER NOT NULL,
                    content_headers TEXT NOT NULL,
                    user_metadata TEXT NOT NULL,
                    checksum_algorithm TEXT,
                    checksum_type TEXT
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS upload_by_key ON upload (bucket, key, initiated_ms);
                CREATE TABLE IF NOT EXISTS part (
                    upload_id TEXT NOT NULL,
                    part_number INTEGER NOT NULL,
                    blob_id TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    etag TEXT NOT NULL,
                    last_modified_ms INTEGER NOT NULL,
                    fence_token INTEGER,
                    checksum TEXT,
                    PRIMARY KEY (upload_id, part_number)
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS fence (
                    lock TEXT PRIMARY KEY NOT NULL,
                    highest_token INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS fenced_path (
                    bucket TEXT NOT NULL,
                    prefix TEXT NOT NULL,
                    PRIMARY KEY (bucket, prefix)
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS write_record (
                    name TEXT PRIMARY KEY NOT NULL,
                    recorded_ms INTEGER NOT NULL,
                    kind TEXT,
                    bucket TEXT,
                    key TEXT,
                    version_id TEXT,
                    etag TEXT,
                    commit_sequence INTEGER
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS write_record_by_time ON write_record (recorded_ms);
                CREATE TABLE IF NOT EXISTS inline_data (
                    version TEXT PRIMARY KEY NOT NULL,
                    data BLOB NOT NULL
                );
                CREATE TABLE IF NOT EXISTS counter (
                    name TEXT PRIMARY KEY NOT NULL,
                    value INTEGER NOT NULL
                ) WITHOUT ROWID;
                """
        )
        // Version 2: multipart uploads keep a checksum algorithm and type, their parts a checksum.
        try addColumn("checksum_algorithm TEXT", to: "upload", in: db)
        try addColumn("checksum_type TEXT", to: "upload", in: db)
        try addColumn("checksum TEXT", to: "part", in: db)
    }

    /// Adds a column to a table created by an older version, when it is missing.
    private static func addColumn(_ definition: String, to table: String, in db: Database) throws {
        let name = String(definition.prefix { $0 != " " })
        if try !db.columns(in: table).contains(where: { $0.name == name }) {
            try db.execute(sql: "ALTER TABLE \(table) ADD COLUMN \(definition)")
        }
    }
}
