CREATE TABLE `event_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`project` text NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `event_outbox_created` ON `event_outbox` (`created_at`);--> statement-breakpoint
CREATE TABLE `remote_registries` (
	`name` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`type` text NOT NULL,
	`credentials` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `replication_executions` (
	`id` text PRIMARY KEY NOT NULL,
	`policy` text NOT NULL,
	`trigger` text NOT NULL,
	`status` text NOT NULL,
	`listed` integer DEFAULT false NOT NULL,
	`event_id` text,
	`error` text,
	`throttled_until` integer,
	`started_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `replication_executions_policy` ON `replication_executions` (`policy`,`started_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `replication_executions_event` ON `replication_executions` (`policy`,`event_id`);--> statement-breakpoint
CREATE TABLE `replication_policies` (
	`name` text PRIMARY KEY NOT NULL,
	`source` text,
	`destination` text,
	`destination_namespace` text,
	`repository_filter` text,
	`tag_filter` text,
	`artifact_types` text,
	`trigger` text NOT NULL,
	`cron` text,
	`override` integer DEFAULT true NOT NULL,
	`replicate_deletion` integer DEFAULT false NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`concurrency` integer DEFAULT 4 NOT NULL,
	`bandwidth_mbps` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `replication_tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`execution` text NOT NULL,
	`operation` text NOT NULL,
	`source_repository` text NOT NULL,
	`destination_repository` text NOT NULL,
	`reference` text NOT NULL,
	`digest` text,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`bytes_copied` integer DEFAULT 0 NOT NULL,
	`blobs_copied` integer DEFAULT 0 NOT NULL,
	`blobs_skipped` integer DEFAULT 0 NOT NULL,
	`error` text,
	`started_at` integer,
	`finished_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `replication_tasks_artifact` ON `replication_tasks` (`execution`,`operation`,`source_repository`,`reference`);--> statement-breakpoint
CREATE INDEX `replication_tasks_status` ON `replication_tasks` (`execution`,`status`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`project` text NOT NULL,
	`webhook` text NOT NULL,
	`event_id` text NOT NULL,
	`event_type` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`status_code` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `webhook_deliveries_event` ON `webhook_deliveries` (`project`,`webhook`,`event_id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_log` ON `webhook_deliveries` (`project`,`webhook`,`created_at`);--> statement-breakpoint
CREATE TABLE `webhooks` (
	`project` text NOT NULL,
	`name` text NOT NULL,
	`url` text NOT NULL,
	`events` text NOT NULL,
	`format` text NOT NULL,
	`secret` text,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`project`, `name`)
);
