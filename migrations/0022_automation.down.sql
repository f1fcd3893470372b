DROP TABLE automatic_replies;
DROP TABLE automation_rules;
DROP TABLE automation_settings;
