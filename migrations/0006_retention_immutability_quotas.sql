CREATE TABLE `retention_policies` (
	`project` text PRIMARY KEY NOT NULL,
	`rules` text NOT NULL,
	`schedule` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `retention_run_items` (
	`run` text NOT NULL,
	`repository` text NOT NULL,
	`digest` text NOT NULL,
	`tags` text NOT NULL,
	`pushed_at` integer NOT NULL,
	`last_pulled_at` integer,
	PRIMARY KEY(`run`, `repository`, `digest`)
);
--> statement-breakpoint
CREATE TABLE `retention_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`project` text NOT NULL,
	`dry_run` integer NOT NULL,
	`trigger` text NOT NULL,
	`status` text NOT NULL,
	`examined` integer DEFAULT 0 NOT NULL,
	`removed` integer DEFAULT 0 NOT NULL,
	`error` text,
	`started_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `retention_runs_project` ON `retention_runs` (`project`,`started_at`);--> statement-breakpoint
ALTER TABLE `cache_counters` ADD `bytes_evicted` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `cache_counters` ADD `artifacts_evicted` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `projects` ADD `storage_limit_bytes` integer DEFAULT -1 NOT NULL;--> statement-breakpoint
ALTER TABLE `projects` ADD `immutable_tag_rules` text DEFAULT '[]' NOT NULL;