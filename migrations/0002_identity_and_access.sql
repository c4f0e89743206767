CREATE TABLE `audit_logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`principal` text NOT NULL,
	`action` text NOT NULL,
	`resource` text NOT NULL,
	`project` text,
	`result` text NOT NULL,
	`ip` text
);
--> statement-breakpoint
CREATE INDEX `audit_logs_at` ON `audit_logs` (`at`);--> statement-breakpoint
CREATE INDEX `audit_logs_project` ON `audit_logs` (`project`);--> statement-breakpoint
CREATE TABLE `project_members` (
	`project` text NOT NULL,
	`username` text NOT NULL,
	`role` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch()) NOT NULL,
	PRIMARY KEY(`project`, `username`)
);
--> statement-breakpoint
CREATE INDEX `project_members_user` ON `project_members` (`username`);--> statement-breakpoint
CREATE TABLE `projects` (
	`name` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`public` integer DEFAULT false NOT NULL,
	`created_by` text,
	`created_at` integer DEFAULT (unixepoch()) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `robot_permissions` (
	`robot` text NOT NULL,
	`project` text NOT NULL,
	`action` text NOT NULL,
	PRIMARY KEY(`robot`, `project`, `action`)
);
--> statement-breakpoint
CREATE INDEX `robot_permissions_project` ON `robot_permissions` (`project`);--> statement-breakpoint
CREATE TABLE `robots` (
	`name` text PRIMARY KEY NOT NULL,
	`level` text NOT NULL,
	`secret_hash` text NOT NULL,
	`description` text,
	`expires_at` integer,
	`disabled` integer DEFAULT false NOT NULL,
	`created_by` text,
	`created_at` integer DEFAULT (unixepoch()) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `users` (
	`username` text PRIMARY KEY NOT NULL,
	`password_hash` text NOT NULL,
	`is_admin` integer DEFAULT false NOT NULL,
	`disabled` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (unixepoch()) NOT NULL
);
