CREATE TABLE `auth_known_addresses` (
	`user_key` text NOT NULL,
	`address` text NOT NULL,
	`last_at` text NOT NULL,
	PRIMARY KEY(`user_key`, `address`)
);
--> statement-breakpoint
CREATE INDEX `auth_known_addresses_recent` ON `auth_known_addresses` (`user_key`,`last_at`);--> statement-breakpoint
CREATE TABLE `auth_limits` (
	`key` text PRIMARY KEY NOT NULL,
	`count` integer NOT NULL,
	`reset_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `auth_limits_reset` ON `auth_limits` (`reset_at`);--> statement-breakpoint
CREATE TABLE `media` (
	`name` text PRIMARY KEY NOT NULL,
	`mime` text NOT NULL,
	`bytes` blob NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `push_queue` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`subscription_id` text NOT NULL,
	`origin` text NOT NULL,
	`tag` text NOT NULL,
	`kind` text NOT NULL,
	`payload` text NOT NULL,
	`urgency` text NOT NULL,
	`ttl` integer NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` text NOT NULL,
	`last_error` text,
	`created_at` text NOT NULL,
	FOREIGN KEY (`subscription_id`) REFERENCES `push_subscriptions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `push_queue_sub_tag` ON `push_queue` (`subscription_id`,`tag`);--> statement-breakpoint
CREATE INDEX `push_queue_due` ON `push_queue` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `push_queue_tag` ON `push_queue` (`tag`);--> statement-breakpoint
CREATE TABLE `push_settings` (
	`user_id` text PRIMARY KEY NOT NULL,
	`messages` integer DEFAULT true NOT NULL,
	`failed_runs` integer DEFAULT true NOT NULL,
	`muted_agents` text DEFAULT '[]' NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `push_subscriptions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`endpoint` text NOT NULL,
	`p256dh` text NOT NULL,
	`auth` text NOT NULL,
	`name` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	`last_success_at` text,
	`last_error` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `push_subscriptions_endpoint_unique` ON `push_subscriptions` (`endpoint`);--> statement-breakpoint
CREATE INDEX `push_subscriptions_user` ON `push_subscriptions` (`user_id`);--> statement-breakpoint
CREATE TABLE `server_settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `conversations` ADD `unread` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `conversations` ADD `unread_since` text;--> statement-breakpoint
-- Hand-added: unread counts move from each message (read_at) to its conversation, with the first unread message; carried over before read_at goes.
UPDATE `conversations` SET `unread` = (SELECT count(*) FROM `messages` m WHERE m.`conversation_id` = `conversations`.`id` AND m.`read_at` IS NULL AND m.`role` != 'user'), `unread_since` = (SELECT min(m.`id`) FROM `messages` m WHERE m.`conversation_id` = `conversations`.`id` AND m.`read_at` IS NULL AND m.`role` != 'user');--> statement-breakpoint
DROP INDEX `messages_agent_unread`;--> statement-breakpoint
ALTER TABLE `messages` DROP COLUMN `read_at`;--> statement-breakpoint
ALTER TABLE `activity` ADD `ref_id` text;--> statement-breakpoint
ALTER TABLE `activity` ADD `outcome` text;--> statement-breakpoint
CREATE INDEX `conversations_unread` ON `conversations` (`agent_id`,`unread`) WHERE unread > 0;--> statement-breakpoint
ALTER TABLE `decisions` ADD `expires_at` text;--> statement-breakpoint
CREATE INDEX `decisions_pending` ON `decisions` (`agent_id`,`id`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `decisions_expiry` ON `decisions` (`expires_at`) WHERE status = 'pending' AND expires_at IS NOT NULL;--> statement-breakpoint
CREATE INDEX `agents_created` ON `agents` (`created_at`);--> statement-breakpoint
CREATE INDEX `outbox_delivered` ON `outbox` (`status`,`delivered_at`);--> statement-breakpoint
CREATE INDEX `outbox_status` ON `outbox` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `sessions_expiry` ON `sessions` (`expires_at`);--> statement-breakpoint
CREATE INDEX `task_runs_finished` ON `task_runs` (`finished_at`);--> statement-breakpoint
CREATE INDEX `task_runs_open` ON `task_runs` (`created_at`) WHERE status IN ('due', 'running');