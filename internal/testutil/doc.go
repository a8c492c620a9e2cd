// Package testutil holds helpers shared by strata's tests.
package testutil
