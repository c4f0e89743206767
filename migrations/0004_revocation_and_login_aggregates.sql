ALTER TABLE `audit_logs` ADD `count` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `audit_logs` ADD `aggregate_key` text;--> statement-breakpoint
CREATE UNIQUE INDEX `audit_logs_aggregate_key_unique` ON `audit_logs` (`aggregate_key`);--> statement-breakpoint
ALTER TABLE `projects` ADD `restricted_at` integer;--> statement-breakpoint
-- Edited before landing: SQLite refuses ADD COLUMN ... NOT NULL without a default, and rows
-- that exist need an id of their own (accounts created later get one from the application).
ALTER TABLE `robots` ADD `id` text DEFAULT '' NOT NULL;--> statement-breakpoint
UPDATE `robots` SET `id` = lower(hex(randomblob(16))) WHERE `id` = '';--> statement-breakpoint
ALTER TABLE `robots` ADD `credential_epoch` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `robots` ADD `access_epoch` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `robots_id_unique` ON `robots` (`id`);--> statement-breakpoint
-- Edited before landing: SQLite refuses ADD COLUMN ... NOT NULL without a default, and rows
-- that exist need an id of their own (accounts created later get one from the application).
ALTER TABLE `users` ADD `id` text DEFAULT '' NOT NULL;--> statement-breakpoint
UPDATE `users` SET `id` = lower(hex(randomblob(16))) WHERE `id` = '';--> statement-breakpoint
ALTER TABLE `users` ADD `credential_epoch` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `access_epoch` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `users_id_unique` ON `users` (`id`);