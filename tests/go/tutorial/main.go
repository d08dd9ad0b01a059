// Command tutorial runs the contour/histogram tutorial with Pachyderm's own Go
// client (github.com/pachyderm/pachyderm/v2/src/client), the way the book's Go
// scripts do, against whatever pachd the active pachctl context points at
// (PACH_CONFIG). Every step is checked; the first failure exits non-zero with
// a line starting "FAIL". Each passed step prints a line starting "ok".
//
// Usage: tutorial <photos-dir>
//
// The photos directory holds the tutorial's PNGs; the first three (sorted) are
// uploaded to photos@master.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pachyderm/pachyderm/v2/src/client"
	"github.com/pachyderm/pachyderm/v2/src/pfs"
	"github.com/pachyderm/pachyderm/v2/src/pps"
	"github.com/pachyderm/pachyderm/v2/src/version"
)

const image = "svekars/contour-histogram:1.0"

func fail(format string, args ...interface{}) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(1)
}

func check(err error, step string) {
	if err != nil {
		fail("%s: %v", step, err)
	}
}

func ok(format string, args ...interface{}) {
	fmt.Printf("ok "+format+"\n", args...)
}

func repoNames(c *client.APIClient) []string {
	infos, err := c.ListRepo()
	check(err, "list repos")
	var names []string
	for _, ri := range infos {
		names = append(names, ri.Repo.Name)
	}
	sort.Strings(names)
	return names
}

func pipelineNames(c *client.APIClient) []string {
	infos, err := c.ListPipeline(false)
	check(err, "list pipelines")
	var names []string
	for _, pi := range infos {
		names = append(names, pi.Pipeline.Name)
	}
	sort.Strings(names)
	return names
}

func fileNames(c *client.APIClient, repo string) []string {
	var names []string
	err := c.ListFile(client.NewCommit(repo, "master", ""), "/", func(fi *pfs.FileInfo) error {
		names = append(names, fi.File.Path)
		return nil
	})
	check(err, "list files in "+repo)
	sort.Strings(names)
	return names
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: tutorial <photos-dir>")
	}
	photosDir := os.Args[1]

	// Step 1: connect (through the active pachctl context) and print the version.
	c, err := client.NewOnUserMachine("user")
	check(err, "connect")
	defer c.Close()
	v, err := c.Version()
	check(err, "version")
	if !strings.HasPrefix(v, "2.") {
		fail("version: got %q, want 2.x", v)
	}
	// What NewOnUserMachine checked on connect: the server vouches for this
	// client's version (warnings_ok) and has no warnings for it.
	ci, err := c.InspectClusterWithVersion(version.Version)
	check(err, "inspect cluster")
	if !ci.WarningsOk || len(ci.Warnings) != 0 || ci.DeploymentId == "" {
		fail("inspect cluster: warnings_ok=%v warnings=%v deployment_id=%q", ci.WarningsOk, ci.Warnings, ci.DeploymentId)
	}
	ok("version %s; cluster without warnings", v)

	// Step 2: create repo photos and list repos.
	check(c.CreateRepo("photos"), "create repo photos")
	if got := repoNames(c); strings.Join(got, ",") != "photos" {
		fail("list repos after create: %v", got)
	}
	ok("create repo photos; repos: photos")

	// Step 3: put three files into photos@master and list them.
	entries, err := filepath.Glob(filepath.Join(photosDir, "*.png"))
	check(err, "glob photos")
	sort.Strings(entries)
	if len(entries) < 3 {
		fail("need three photos in %s, found %d", photosDir, len(entries))
	}
	var want []string
	sizes := map[string]int{}
	for _, path := range entries[:3] {
		data, err := os.ReadFile(path)
		check(err, "read "+path)
		name := filepath.Base(path)
		check(c.PutFile(client.NewCommit("photos", "master", ""), name, bytes.NewReader(data)), "put file "+name)
		want = append(want, "/"+name)
		sizes["/"+name] = len(data)
	}
	var got []string
	var gotSizes = map[string]int{}
	err = c.ListFile(client.NewCommit("photos", "master", ""), "/", func(fi *pfs.FileInfo) error {
		got = append(got, fi.File.Path)
		gotSizes[fi.File.Path] = int(fi.SizeBytes)
		return nil
	})
	check(err, "list file photos@master")
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		fail("list file photos@master: got %v, want %v", got, want)
	}
	for name, size := range sizes {
		if gotSizes[name] != size {
			fail("list file photos@master: %s has size %d, want %d", name, gotSizes[name], size)
		}
	}
	ok("put file x3; files: %s", strings.Join(got, " "))

	// Step 4: create the contour and histogram pipelines and list pipelines.
	check(c.CreatePipeline("contour", image, []string{"python3", "contour.py"}, nil,
		&pps.ParallelismSpec{Constant: 1}, client.NewPFSInput("photos", "/"), "", false), "create pipeline contour")
	check(c.CreatePipeline("histogram", image, []string{"python3", "histogram.py"}, nil,
		&pps.ParallelismSpec{Constant: 1}, client.NewPFSInput("contour", "/"), "", false), "create pipeline histogram")
	if got := pipelineNames(c); strings.Join(got, ",") != "contour,histogram" {
		fail("list pipelines: %v", got)
	}
	pi, err := c.InspectPipeline("contour", true)
	check(err, "inspect pipeline contour")
	if pi.Details.GetParallelismSpec().GetConstant() != 1 || pi.Details.GetInput().GetPfs().GetGlob() != "/" {
		fail("inspect pipeline contour: parallelism %v input %v", pi.Details.GetParallelismSpec(), pi.Details.GetInput())
	}
	ok("create pipelines; pipelines: contour histogram")

	// Step 5: wait for the outputs and read one back.
	deadline := time.Now().Add(5 * time.Minute)
	for _, repo := range []string{"contour", "histogram"} {
		for {
			ci, err := c.WaitCommit(repo, "master", "")
			check(err, "wait commit "+repo+"@master")
			if ci.Error != "" {
				fail("%s@master finished with error %q", repo, ci.Error)
			}
			if names := fileNames(c, repo); strings.Join(names, ",") == strings.Join(want, ",") {
				break
			}
			if time.Now().After(deadline) {
				fail("%s@master: outputs never appeared", repo)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	jobs, err := c.ListJob("histogram", nil, -1, false)
	check(err, "list job histogram")
	if len(jobs) == 0 || jobs[0].State != pps.JobState_JOB_SUCCESS {
		fail("histogram jobs: %v", jobs)
	}
	var buf bytes.Buffer
	check(c.GetFile(client.NewCommit("histogram", "master", ""), want[0], &buf), "get file histogram@master:"+want[0])
	if buf.Len() < 1000 || !bytes.HasPrefix(buf.Bytes(), []byte("\x89PNG\r\n\x1a\n")) {
		fail("get file histogram@master:%s: %d bytes, not a PNG", want[0], buf.Len())
	}
	ok("outputs ready; histogram@master:%s is a %d-byte PNG", want[0], buf.Len())

	// Step 6: clean up as the book's cleanup does, then list again.
	check(c.DeleteRepo("photos", true), "delete repo photos --force")
	check(c.DeletePipeline("histogram", true), "delete pipeline histogram")
	check(c.DeletePipeline("contour", true), "delete pipeline contour")
	if got := repoNames(c); len(got) != 0 {
		fail("repos after cleanup: %v", got)
	}
	if got := pipelineNames(c); len(got) != 0 {
		fail("pipelines after cleanup: %v", got)
	}
	ok("cleanup; no repos, no pipelines")
	fmt.Println("PASS")
}
