CREATE TABLE `gc_candidates` (
	`run` text NOT NULL,
	`kind` text NOT NULL,
	`repository` text NOT NULL,
	`digest` text NOT NULL,
	`size` integer NOT NULL,
	PRIMARY KEY(`run`, `kind`, `repository`, `digest`)
);
--> statement-breakpoint
CREATE INDEX `gc_candidates_digest` ON `gc_candidates` (`run`,`kind`,`digest`);--> statement-breakpoint
CREATE TABLE `gc_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`dry_run` integer NOT NULL,
	`delete_untagged` integer NOT NULL,
	`trigger` text NOT NULL,
	`phase` text NOT NULL,
	`steps` integer DEFAULT 0 NOT NULL,
	`manifests_deleted` integer DEFAULT 0 NOT NULL,
	`links_deleted` integer DEFAULT 0 NOT NULL,
	`blobs_deleted` integer DEFAULT 0 NOT NULL,
	`bytes_freed` integer DEFAULT 0 NOT NULL,
	`largest_step_calls` integer DEFAULT 0 NOT NULL,
	`largest_step_ms` integer DEFAULT 0 NOT NULL,
	`error` text,
	`requested_by` text,
	`started_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `gc_runs_started` ON `gc_runs` (`started_at`);--> statement-breakpoint
CREATE TABLE `manifest_references` (
	`repository` text NOT NULL,
	`manifest` text NOT NULL,
	`target` text NOT NULL,
	`kind` text NOT NULL,
	PRIMARY KEY(`repository`, `manifest`, `target`)
);
--> statement-breakpoint
CREATE INDEX `manifest_references_target` ON `manifest_references` (`repository`,`target`);--> statement-breakpoint
CREATE TABLE `schedules` (
	`name` text PRIMARY KEY NOT NULL,
	`cron` text NOT NULL,
	`options` text DEFAULT '{}' NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`next_run_at` integer NOT NULL,
	`last_run_at` integer,
	`last_result` text
);
--> statement-breakpoint
ALTER TABLE `blobs` ADD `state` text DEFAULT 'live' NOT NULL;--> statement-breakpoint
ALTER TABLE `blobs` ADD `touched_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `blobs_object_key` ON `blobs` (`object_key`);--> statement-breakpoint
CREATE INDEX `blobs_state` ON `blobs` (`state`);--> statement-breakpoint
ALTER TABLE `manifests` ADD `pushed_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `manifests` ADD `last_pulled_at` integer;--> statement-breakpoint
ALTER TABLE `manifests` ADD `pull_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `manifests` ADD `references_recorded` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `repository_blobs` ADD `linked_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Edited before landing: rows that exist get the times they already record (seconds), so that
-- the garbage collector's grace window and retention's "latest pushed" see their real age.
UPDATE `blobs` SET `touched_at` = `created_at` * 1000;--> statement-breakpoint
UPDATE `manifests` SET `pushed_at` = `created_at` * 1000;--> statement-breakpoint
UPDATE `repository_blobs` SET `linked_at` = `created_at` * 1000;
