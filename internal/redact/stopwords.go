package redact

import "strings"

// notName holds words that follow "I am", "this is", "myself", "my name is"
// or a title without being a name: function words, feelings, roles, places
// of the trade, product words. Lower case.
var notName = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`
a about above absolutely actually after again against all almost also always am amazed amazing an and
angry annoyed another any anyone anything are as at available away back bad basically because been
before being below best better between big bit both busy but by calling can cannot certainly
citizen client completely confused contacting content could currently customer customers dear delighted
did disappointed disgusted do does doing done down during each either else elsewhere enjoying
especially even ever every everyone everything excited extremely fairly fan few fine finally first
for forced free from frustrated fully further getting giving glad going gone good got grateful great
had happy has have having he hello her here hers hi him his honestly hopeful how however i if
impressed in indeed into is it its just kind kindly last late least less let like likely little long
looking lost loyal mad made madam mainly many may maybe me member mine more most mostly much must my
myself need neither never new next nice no none nor not nothing now of off often ok okay old on once
one only or other our ours out over overall own part pleased pretty probably proud quite rather
really regular regularly relieved right sad same satisfied say see seriously she should simply since
sir so some someone something sometimes soon sorry still such super sure surprised than thank thankful
thanks that the their them then there these they thing this those though through thrilled to today
too totally truly trying unable under unhappy until unsatisfied up upset us used user using usually
very waiting was we well were what when where which while who whom whose why will willing with
within without won't would writing wrong yes yet you your yours

aadhaar card crypto dob email gstin iban ip mac name nino pan passport phone ssn upi vehicle voterid

awesome excellent fantastic wonderful brilliant superb terrible horrible awful perfect outstanding
lovely loving fabulous incredible poor pathetic worst useless lucky blessed

able admin agent ambassador buyer calling client consumer doctor employee engineer executive
family father frequent guest holder husband manager mother owner parent patient premium prime
retired seller senior shopkeeper staff student subscriber team teacher tester vendor visitor wife

indian american british english hindu muslim christian sikh

monday tuesday wednesday thursday friday saturday sunday
january february march april june july august september october november december

office word excel teams outlook windows app website store shop bank branch service support
delivery order orders product products payment refund account card online team
`) {
		notName[w] = true
	}
}
