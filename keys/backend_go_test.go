//go:build !openssl

package keys

// thisBuild is the backend this build of the tests must report, and
// otherBuildTags the build tags of the other variant (TestCrossBuild).
const (
	thisBuild      = "go"
	otherBuildTags = "openssl"
)
