DROP TABLE contacts;
DROP TABLE api_keys;
