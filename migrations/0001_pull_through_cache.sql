CREATE TABLE `cache_counters` (
	`upstream` text PRIMARY KEY NOT NULL,
	`hits` integer DEFAULT 0 NOT NULL,
	`misses` integer DEFAULT 0 NOT NULL,
	`stale_serves` integer DEFAULT 0 NOT NULL,
	`upstream_errors` integer DEFAULT 0 NOT NULL,
	`bytes_served` integer DEFAULT 0 NOT NULL,
	`bytes_fetched` integer DEFAULT 0 NOT NULL,
	`updated_at` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `cache_references` (
	`repository` text NOT NULL,
	`reference` text NOT NULL,
	`digest` text,
	`checked_at` integer NOT NULL,
	PRIMARY KEY(`repository`, `reference`)
);
--> statement-breakpoint
CREATE TABLE `cached_artifacts` (
	`upstream` text NOT NULL,
	`repository` text NOT NULL,
	`digest` text NOT NULL,
	`kind` text NOT NULL,
	`size` integer NOT NULL,
	`pull_count` integer DEFAULT 0 NOT NULL,
	`last_pulled_at` integer NOT NULL,
	`cached_at` integer NOT NULL,
	PRIMARY KEY(`upstream`, `repository`, `digest`)
);
--> statement-breakpoint
CREATE INDEX `cached_artifacts_last_pulled` ON `cached_artifacts` (`last_pulled_at`);--> statement-breakpoint
CREATE TABLE `prefetch_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`upstream` text NOT NULL,
	`repository` text NOT NULL,
	`reference` text NOT NULL,
	`platform` text,
	`status` text NOT NULL,
	`manifests_done` integer DEFAULT 0 NOT NULL,
	`blobs_total` integer DEFAULT 0 NOT NULL,
	`blobs_done` integer DEFAULT 0 NOT NULL,
	`bytes_fetched` integer DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
