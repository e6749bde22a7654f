-- The auth service's database beside the cloud's (POSTGRES_DB): users, roles,
-- edge keys. Run by the postgres image once, when its volume is empty.
CREATE DATABASE ems_auth;
