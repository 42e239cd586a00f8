package slurm

import (
	"os/exec"
	"testing"
)

func TestParseJob(t *testing.T) {
	tests := []struct {
		name, line string
		want       jobState
		ended      bool
	}{
		{
			name:  "failed with its exit code",
			line:  "JobId=1 JobName=wrap UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=3:0 RunTime=00:00:00 TimeLimit=UNLIMITED NodeList=vm Command=/a b/job.sh\n",
			want:  jobState{State: "FAILED", Reason: "NonZeroExitCode", ExitCode: "3:0", Limit: "UNLIMITED", Node: "vm"},
			ended: true,
		},
		{
			name:  "timeout",
			line:  "JobId=3 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:0 TimeLimit=00:01:00 NodeList=vm",
			want:  jobState{State: "TIMEOUT", Reason: "TimeLimit", ExitCode: "0:0", Limit: "00:01:00", Node: "vm"},
			ended: true,
		},
		{
			name: "running",
			line: "JobId=4 JobState=RUNNING Reason=None ExitCode=0:0 TimeLimit=UNLIMITED NodeList=vm",
			want: jobState{State: "RUNNING", Reason: "None", ExitCode: "0:0", Limit: "UNLIMITED", Node: "vm"},
		},
		{
			name: "pending: first occurrence of a key wins",
			line: "JobId=5 JobState=PENDING Reason=Resources ExitCode=0:0 Comment=JobState=COMPLETED",
			want: jobState{State: "PENDING", Reason: "Resources", ExitCode: "0:0"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseJob(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			if *got != tc.want {
				t.Errorf("parseJob = %+v, want %+v", *got, tc.want)
			}
			if got.ended() != tc.ended {
				t.Errorf("ended = %v, want %v", got.ended(), tc.ended)
			}
		})
	}
	if _, err := parseJob("slurm_load_jobs error: Invalid job id specified"); err == nil {
		t.Error("a line without JobState parsed")
	}
}

func TestJobStateErr(t *testing.T) {
	tests := []struct {
		st   jobState
		want string // "" = no error
	}{
		{jobState{State: "COMPLETED", ExitCode: "0:0"}, ""},
		{jobState{State: "TIMEOUT", Reason: "TimeLimit", ExitCode: "0:15", Limit: "00:01:00"},
			"slurm job 7 exceeded its time limit of 00:01:00 (JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15)"},
		{jobState{State: "OUT_OF_MEMORY", Reason: "OutOfMemory", ExitCode: "0:125"},
			"slurm job 7 ran out of memory (JobState=OUT_OF_MEMORY Reason=OutOfMemory ExitCode=0:125)"},
		{jobState{State: "NODE_FAIL", Reason: "NodeDown", ExitCode: "0:0", Node: "n3"},
			"slurm job 7 lost its node n3 (JobState=NODE_FAIL Reason=NodeDown ExitCode=0:0)"},
		{jobState{State: "FAILED", Reason: "NonZeroExitCode", ExitCode: "7:0"},
			"slurm job 7 exited with code 7 (JobState=FAILED Reason=NonZeroExitCode ExitCode=7:0)"},
		{jobState{State: "FAILED", Reason: "NonZeroExitCode", ExitCode: "0:9"},
			"slurm job 7 was killed by signal 9 (JobState=FAILED Reason=NonZeroExitCode ExitCode=0:9)"},
		{jobState{State: "CANCELLED", Reason: "None", ExitCode: "0:15"},
			"slurm job 7 was cancelled outside dagrun (JobState=CANCELLED Reason=None ExitCode=0:15)"},
		{jobState{State: "BOOT_FAIL", Reason: "x", ExitCode: "0:0"},
			"slurm job 7 ended BOOT_FAIL (JobState=BOOT_FAIL Reason=x ExitCode=0:0)"},
	}
	for _, tc := range tests {
		t.Run(tc.st.State, func(t *testing.T) {
			err := tc.st.err("7")
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("err = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"/a b/it's", "plain", "", `$HOME "x" \ ;|&`} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != s {
			t.Errorf("sh read %q back as %q", s, out)
		}
	}
}
