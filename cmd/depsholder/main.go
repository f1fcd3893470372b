// Package main pins modules that packages under construction will import. Delete once they do.
package main

import (
	_ "github.com/alexedwards/argon2id"
	_ "github.com/casbin/casbin/v2"
	_ "github.com/casbin/casbin/v2/model"
	_ "github.com/casbin/casbin/v2/persist/string-adapter"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/google/uuid"
	_ "github.com/jackc/pgerrcode"
	_ "github.com/nyaruka/phonenumbers"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/riverqueue/river/rivertest"
	_ "github.com/ulule/limiter/v3"
	_ "github.com/ulule/limiter/v3/drivers/store/memory"
	_ "github.com/ulule/limiter/v3/drivers/store/redis"
	_ "gocloud.dev/secrets"
	_ "gocloud.dev/secrets/awskms"
	_ "gocloud.dev/secrets/azurekeyvault"
	_ "gocloud.dev/secrets/gcpkms"
	_ "gocloud.dev/secrets/hashivault"
	_ "gocloud.dev/secrets/localsecrets"
	_ "riverqueue.com/riverui"
	_ "go.uber.org/fx/fxtest"
)

func main() {}
