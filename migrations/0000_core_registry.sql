CREATE TABLE `blobs` (
	`digest` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`object_key` text,
	`content` text,
	`created_at` integer DEFAULT (unixepoch()) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `manifests` (
	`repository` text NOT NULL,
	`digest` text NOT NULL,
	`media_type` text NOT NULL,
	`size` integer NOT NULL,
	`subject` text,
	`artifact_type` text,
	`created_at` integer DEFAULT (unixepoch()) NOT NULL,
	PRIMARY KEY(`repository`, `digest`)
);
--> statement-breakpoint
CREATE INDEX `manifests_subject` ON `manifests` (`repository`,`subject`,`digest`);--> statement-breakpoint
CREATE INDEX `manifests_digest` ON `manifests` (`digest`);--> statement-breakpoint
CREATE TABLE `repositories` (
	`name` text PRIMARY KEY NOT NULL,
	`created_at` integer DEFAULT (unixepoch()) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `repository_blobs` (
	`repository` text NOT NULL,
	`digest` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch()) NOT NULL,
	PRIMARY KEY(`repository`, `digest`)
);
--> statement-breakpoint
CREATE INDEX `repository_blobs_digest` ON `repository_blobs` (`digest`);--> statement-breakpoint
CREATE TABLE `tags` (
	`repository` text NOT NULL,
	`name` text NOT NULL,
	`digest` text NOT NULL,
	`updated_at` integer DEFAULT (unixepoch()) NOT NULL,
	PRIMARY KEY(`repository`, `name`)
);
--> statement-breakpoint
CREATE INDEX `tags_digest` ON `tags` (`repository`,`digest`);